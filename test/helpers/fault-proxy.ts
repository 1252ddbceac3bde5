/**
 * An HTTP proxy on loopback in front of s3rver or dynalite that can make the
 * storage slow, refuse writes, or vanish: the faults a real S3 or DynamoDB
 * shows from time to time.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  | { kind: 'fail-puts'; pathPrefix: string }
  | { kind: 'down' };

export async function startFaultProxy(target: string) {
  const upstream = new URL(target);
  let mode: FaultMode = { kind: 'pass' };
  let faulted = 0;
  const sockets = new Set<Socket>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const current = mode;
    if (current.kind === 'down') {
      faulted += 1;
      req.socket.destroy();
      return;
    }
    if (current.kind === 'fail-puts' && req.method === 'PUT' && (req.url ?? '').startsWith(current.pathPrefix)) {
      faulted += 1;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const forward = () => {
      const outgoing = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      outgoing.on('error', () => res.destroy());
      req.pipe(outgoing);
    };
    if (current.kind === 'delay') {
      faulted += 1;
      setTimeout(forward, current.ms);
    } else forward();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    set(next: FaultMode) {
      mode = next;
      // Kept-alive connections would otherwise skip a new `down`.
      if (next.kind === 'down') for (const socket of sockets) socket.destroy();
    },
    faulted: () => faulted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
