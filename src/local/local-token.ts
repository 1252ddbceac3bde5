/**
 * `GET /_local/token`: the local API token for the playground, served only to a
 * browser on this machine that talks to a server bound to loopback. The peer
 * address alone is not enough: a page of another site can make a browser on
 * this machine reach 127.0.0.1 under its own name (DNS rebinding), so the
 * `Host` it asked for, and the `Origin` where a browser sends one, must name a
 * loopback address too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../core/errors.js';
import { sendError } from './reply.js';

const LOOPBACK_IP = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/** `127.0.0.1`, `[::1]` or `localhost`, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/i.exec(host.trim());
  if (!match) return false;
  const name = (match[1] ?? match[2] ?? '').toLowerCase();
  return name === 'localhost' || LOOPBACK_IP.test(name);
}

/** `http://` + a loopback host; `null` (opaque origins) is not one. */
export function isLoopbackOrigin(origin: string): boolean {
  const match = /^https?:\/\/([^/]+)$/i.exec(origin.trim());
  return match !== null && isLoopbackHost(match[1] as string);
}

/** True when the request comes from this machine, to a loopback socket, under a loopback name. */
export function isLocalRequest(req: IncomingMessage): boolean {
  if (!LOOPBACK_IP.test(req.socket.remoteAddress ?? '') || !LOOPBACK_IP.test(req.socket.localAddress ?? '')) {
    return false;
  }
  const host = req.headers.host;
  if (host === undefined || !isLoopbackHost(host)) return false;
  const origin = req.headers.origin;
  return origin === undefined || isLoopbackOrigin(origin);
}

export function sendLocalToken(req: IncomingMessage, res: ServerResponse, apiToken: string): void {
  // Anyone else gets what the deployed CDN answers: nothing here.
  if (!isLocalRequest(req)) {
    sendError(res, new HttpError('not_found', 'Not found'));
    return;
  }
  const body = JSON.stringify({ token: apiToken });
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
