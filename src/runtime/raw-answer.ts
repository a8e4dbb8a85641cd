/** @module An answer written straight to a socket, where there is no response object: before a request, or instead of one. */
import { STATUS_CODES } from 'node:http';

/** A complete HTTP/1.1 response with a JSON body that closes the connection. */
export function rawAnswer(status: number, body: Record<string, unknown>, headers: string[] = []): string {
  const json = JSON.stringify(body);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: close',
    ...headers,
    '',
    json,
  ].join('\r\n');
}
