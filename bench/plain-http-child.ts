/**
 * Bench child: the hit row's floor, a plain `node:http` server that answers
 * every request with the same bytes and headers a hit sends, and does nothing
 * else (no viewer function, no cache, no routing). The paced load that times
 * our hit path is run against it too: what this server's p99 is on the same
 * machine at the same moment is what the machine allows any Node server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveChild } from './lib/child.js';

let server: Server | undefined;

serveChild({
  /** Serves `body` bytes with `headers` on a loopback port; returns its URL. */
  start: async (args: { bytes: number; headers: Record<string, string> }) => {
    const body = Buffer.alloc(args.bytes, 0x5a);
    const headers = { ...args.headers, 'content-length': String(body.length) };
    server = createServer((_req, res) => {
      res.writeHead(200, headers);
      res.end(body);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  },
  close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
});
