/**
 * An HTTP proxy on loopback in front of s3rver or dynalite that can make the
 * storage slow, refuse writes, or vanish: the faults a real S3 or DynamoDB
 * shows from time to time.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  | { kind: 'fail-puts'; pathPrefix: string }
  /** S3 without write permission: PUT, POST and DELETE under `pathPrefix` get 403 AccessDenied; reads pass. */
  | { kind: 'deny-writes'; pathPrefix: string }
  /**
   * A DeleteObjects (POST `?delete`) whose keys matching `refuse` fail: those are not
   * deleted and come back in the answer's `Errors` (AccessDenied), the others are deleted.
   */
  | { kind: 'partial-delete'; refuse: RegExp }
  | { kind: 'down' };

const ACCESS_DENIED = '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';

export async function startFaultProxy(target: string) {
  const upstream = new URL(target);
  let mode: FaultMode = { kind: 'pass' };
  let faulted = 0;
  const seen: string[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const current = mode;
    seen.push(`${req.method} ${req.url}`);
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
    if (
      current.kind === 'deny-writes' &&
      req.method !== 'GET' &&
      req.method !== 'HEAD' &&
      (req.url ?? '').startsWith(current.pathPrefix)
    ) {
      faulted += 1;
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>${ACCESS_DENIED}`);
      return;
    }
    if (current.kind === 'partial-delete' && req.method === 'POST' && /[?&]delete(=|&|$)/.test(req.url ?? '')) {
      partialDelete(req, res, current.refuse).catch(() => res.destroy());
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
  /** Forwards the DeleteObjects without the refused keys, then adds them to the answer as `Errors`. */
  async function partialDelete(req: IncomingMessage, res: ServerResponse, refuse: RegExp) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const xml = Buffer.concat(chunks).toString('utf8');
    const objects = [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => ({
      whole: m[0],
      key: /<Key>([\s\S]*?)<\/Key>/.exec(m[1] ?? '')?.[1] ?? '',
    }));
    const refused = objects.filter((o) => refuse.test(o.key));
    faulted += refused.length > 0 ? 1 : 0;
    const errors = refused
      .map((o) => `<Error><Key>${o.key}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
      .join('');
    let answer = `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${errors}</DeleteResult>`;
    if (refused.length < objects.length) {
      let kept = xml;
      for (const o of refused) kept = kept.replace(o.whole, '');
      const body = Buffer.from(kept);
      const headers: Record<string, string | string[] | undefined> = { ...req.headers };
      for (const name of Object.keys(headers)) if (name.startsWith('x-amz-checksum-')) delete headers[name];
      delete headers['x-amz-sdk-checksum-algorithm'];
      headers['content-length'] = String(body.length);
      headers['content-md5'] = createHash('md5').update(body).digest('base64');
      headers['x-amz-content-sha256'] = createHash('sha256').update(body).digest('hex');
      const upstreamAnswer = await new Promise<string>((resolve, reject) => {
        const outgoing = request(
          { host: upstream.hostname, port: upstream.port, method: 'POST', path: req.url, headers, agent: false },
          (response) => {
            const parts: Buffer[] = [];
            response.on('data', (part: Buffer) => parts.push(part));
            response.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
            response.on('error', reject);
          },
        );
        outgoing.on('error', reject);
        outgoing.end(body);
      });
      answer = upstreamAnswer.replace('</DeleteResult>', `${errors}</DeleteResult>`);
    }
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  }

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
    /** `METHOD /path?query` of every request since the last `clearSeen()`. */
    seen: () => [...seen],
    clearSeen: () => {
      seen.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
