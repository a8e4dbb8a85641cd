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
