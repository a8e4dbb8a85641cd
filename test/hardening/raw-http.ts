/** @module Raw TCP connections speaking (or abusing) HTTP/1.1, for the slow-client tests. */
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves once the connection is closed, by either side. */
  closed: Promise<void>;
  /** Resolves when it closes; rejects if it is still open after `boundMs` (then destroys it). */
  closedWithin(boundMs: number): Promise<void>;
}

/** Opens a connection to 127.0.0.1:`port` and resolves once connected. */
export function openConnection(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    // A reset from the server is one way of closing; the tests look at `closed`, not at errors.
    socket.on('error', () => {});
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        closed,
        closedWithin: async (boundMs) => {
          let timer: NodeJS.Timeout | undefined;
          const bound = new Promise<never>((_, fail) => {
            timer = setTimeout(() => {
              socket.destroy();
              fail(new Error(`the server kept the connection open for over ${boundMs} ms`));
            }, boundMs);
          });
          try {
            await Promise.race([closed, bound]);
          } finally {
            clearTimeout(timer);
          }
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** The status code and parsed JSON body of the first response in `text`, if any. */
export function firstResponse(text: string): { status: number; json: unknown } | undefined {
  const match = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
  if (!match) return undefined;
  const headers = match[2] ?? '';
  const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? Number.NaN);
  const body = text.slice(match[0].length, match[0].length + length);
  return { status: Number(match[1]), json: JSON.parse(body) };
}

/** Writes `text` one character every `everyMs`, until the socket closes. */
export function dribble(socket: Socket, text: string, everyMs: number): void {
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || index >= text.length) {
      clearInterval(timer);
      return;
    }
    socket.write(text[index] ?? '');
    index += 1;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** The value of header `name` in the first response in `text`, if any. */
export function responseHeader(text: string, name: string): string | undefined {
  const head = /^HTTP\/1\.1 \d{3} [^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text)?.[1] ?? '';
  const line = head.split('\r\n').find((header) => header.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

export interface UploadOptions {
  /** Header lines beyond Host and the body's framing, e.g. `Authorization: Bearer …`. */
  headers?: string[];
  /** Body bytes to send; `Infinity` sends until the server closes the connection. */
  bytes: number;
  /** Frames the body as chunks instead of declaring a Content-Length (for `Infinity`, 1 GiB). */
  chunked?: boolean;
  /** Waits this long between 64 KiB writes: a slow sender. @default 0 */
  everyMs?: number;
  /** Gives up (and destroys the socket) after this long. @default 60_000 */
  boundMs?: number;
  /** Called when the first answer byte arrives. */
  onAnswer?: () => void;
}

export interface UploadResult {
  /** Everything the server sent. */
  received: string;
  /** Body bytes written to the socket. */
  sent: number;
  /** Body bytes written when the first answer byte arrived; undefined if none did. */
  sentWhenAnswered: number | undefined;
  /** Whether the whole body was handed to the socket (`error` says if the socket then failed). */
  finished: boolean;
  /** The socket's error code (a reset, EPIPE), if any. */
  error: string | undefined;
  /** Whether the client gave up after `boundMs` with the connection still open. */
  timedOut: boolean;
}

/**
 * POSTs a body to `path` over a raw connection, as fast as the socket takes it, reading whatever
 * the server answers meanwhile: what a client sees when it is answered before it finished sending.
 * After the body it waits, its side still open, until the server closes the connection.
 */
export function upload(port: number, path: string, options: UploadOptions): Promise<UploadResult> {
  const { headers = [], bytes, chunked = false, everyMs = 0, boundMs = 60_000 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const result: UploadResult = {
      received: '',
      sent: 0,
      sentWhenAnswered: undefined,
      finished: false,
      error: undefined,
      timedOut: false,
    };
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const framing = chunked
      ? 'Transfer-Encoding: chunked'
      : `Content-Length: ${Number.isFinite(bytes) ? bytes : 1024 ** 3}`;
    socket.on('data', (data: Buffer) => {
      if (result.sentWhenAnswered === undefined) {
        result.sentWhenAnswered = result.sent;
        options.onAnswer?.();
      }
      result.received += data.toString('latin1');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      result.error ??= error.code ?? error.message;
    });
    const bound = setTimeout(() => {
      result.timedOut = true;
      socket.destroy();
    }, boundMs);
    socket.once('close', () => {
      clearTimeout(bound);
      resolve(result);
    });
    const write = (data: Buffer | string) =>
      socket.write(chunked && typeof data !== 'string' ? frame(data) : data);
    // One write per turn of the event loop: a loop of writes the kernel keeps taking would never
    // let this client (or the others in this process) read what the server answered.
    const pump = () => {
      if (socket.destroyed) return;
      const part = bytes - result.sent < chunk.length ? chunk.subarray(0, bytes - result.sent) : chunk;
      result.sent += part.length;
      const more = write(part);
      if (result.sent >= bytes) {
        if (chunked) socket.write('0\r\n\r\n');
        result.finished = true;
      } else if (everyMs > 0) setTimeout(pump, everyMs);
      else if (more) setImmediate(pump);
      else socket.once('drain', pump);
    };
    socket.once('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: test\r\n${[...headers, framing].join('\r\n')}\r\n\r\n`);
      pump();
    });
  });
}

/** One chunk of a chunked body. */
function frame(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}

export interface SilentCrowd {
  /** Connections opened so far, the first `count` included. */
  opened(): number;
  /** Stops reopening and closes every connection still open. */
  stop(): Promise<void>;
}

/**
 * Holds `count` connections to 127.0.0.1:`port` that never send a byte, opening a new one as soon
 * as one closes: the crowd that fills MAX_CONNECTIONS without ever making a request.
 */
export async function holdSilentConnections(port: number, count: number): Promise<SilentCrowd> {
  let running = true;
  let opened = 0;
  const open = new Set<Socket>();
  const openOne = () =>
    new Promise<void>((connected) => {
      opened += 1;
      const socket = connect(port, '127.0.0.1');
      open.add(socket);
      socket.on('error', () => {});
      // Reads (and drops) what the server sends, so its closing is seen.
      socket.resume();
      socket.once('connect', () => connected());
      socket.once('close', () => {
        open.delete(socket);
        connected();
        // A turn of the event loop first: a server refusing at once must not starve this process.
        if (running) setImmediate(() => void openOne());
      });
    });
  await Promise.all(Array.from({ length: count }, openOne));
  return {
    opened: () => opened,
    async stop() {
      running = false;
      const closing = [...open].map((socket) => new Promise((closed) => socket.once('close', closed)));
      for (const socket of open) socket.destroy();
      await Promise.all(closing);
    },
  };
}
