/**
 * The local CDN's one JSON error writer, for a Node response
 * and for a raw socket whose request Node could not parse. Status texts come
 * from `node:http`'s `STATUS_CODES`.
 */
import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, type HttpError } from '../core/errors.js';

function errorHeaders(error: HttpError, body: string, extra: Record<string, string>): Record<string, string> {
  return {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...error.headers,
    ...extra,
    'content-length': String(Buffer.byteLength(body)),
  };
}

/** Answers `error` as the JSON error body. */
export function sendError(res: ServerResponse, error: HttpError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody(error));
  res.writeHead(error.status, errorHeaders(error, body, headers));
  res.end(body);
}

/** Answers `error` on a socket without a parsed request (Node's `clientError`), then closes it. */
export function sendRawError(socket: Duplex, error: HttpError): void {
  const body = JSON.stringify(errorBody(error));
  const headers = errorHeaders(error, body, { connection: 'close' });
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n${lines.join('')}\r\n${body}`);
}
