/**
 * Bench child: IPX (unjs/ipx v3), the peer of rows 2, as a Node HTTP server on
 * loopback serving a directory. Its own process: IPX brings its own sharp and
 * libvips, which must not share a process with ours.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';
import { serveChild } from './lib/child.js';

let server: Server | undefined;

serveChild({
  async start(args: { dir: string }): Promise<{ url: string; pid: number }> {
    const ipx = createIPX({ storage: ipxFSStorage({ dir: args.dir }) });
    server = createServer(createIPXNodeServer(ipx));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid };
  },
  async close() {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server?.closeAllConnections();
  },
});
