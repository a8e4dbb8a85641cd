/**
 * @module A stand-in for the downstream API a sink posts to: a real node:http server on 127.0.0.1
 * that records each request (arrival time, headers, parsed body) and answers as the test says.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedRequest {
  /** performance.now() when the request's body had fully arrived. */
  at: number;
  /** Date.now() at the same moment, to compare with HTTP dates. */
  receivedAt: number;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The status it was answered with; undefined if it was left hanging or its socket destroyed. */
  status?: number;
}

/** How to answer one request: a status (with headers), `hang` (never answer) or `destroy` the socket. */
export type Answer =
  | { status: number; headers?: Record<string, string>; delayMs?: number }
  | 'hang'
  | 'destroy';

export type Responder = (request: ReceivedRequest, index: number) => Answer;

export interface Downstream {
  url: string;
  requests: ReceivedRequest[];
  /** Requests answered with a 2xx, in arrival order. */
  accepted(): ReceivedRequest[];
  respondWith(responder: Responder): void;
  /** Resolves once `predicate` holds over the requests so far (polls every 5 ms). */
  waitFor(predicate: (requests: ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startDownstream(responder: Responder = () => ({ status: 200 })): Promise<Downstream> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let respond = responder;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedRequest = {
        at: performance.now(),
        receivedAt: Date.now(),
        headers: req.headers,
        body: parse(text),
      };
      requests.push(request);
      answer(respond(request, requests.length - 1), request, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/changes`,
    requests,
    accepted: () => requests.filter((request) => request.status !== undefined && request.status < 300),
    respondWith(next) {
      respond = next;
    },
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(requests)) {
        if (Date.now() > deadline)
          throw new Error(`downstream: condition not met after ${requests.length} requests`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function answer(choice: Answer, request: ReceivedRequest, res: ServerResponse) {
  if (choice === 'hang') return;
  if (choice === 'destroy') {
    res.socket?.destroy();
    return;
  }
  const send = () => {
    request.status = choice.status;
    res.writeHead(choice.status, { 'content-type': 'application/json', ...choice.headers });
    res.end(JSON.stringify({ status: choice.status }));
  };
  if (choice.delayMs) setTimeout(send, choice.delayMs);
  else send();
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
