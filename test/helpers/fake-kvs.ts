/**
 * A loopback stand-in for the CloudFront KeyValueStore data-plane API (REST
 * JSON, `/key-value-stores/<arn>…`), enough for `keys add|list|retire`:
 * DescribeKeyValueStore, GetKey, ListKeys (paged), PutKey and DeleteKey, with
 * the service's optimistic concurrency: every write needs `If-Match` with the
 * store's current ETag, a stale one gets 409 ConflictException and changes
 * nothing, and a successful write answers the new ETag. The real SDK client is
 * pointed at it with `endpoint`.
 *
 * The client's endpoint rules put the ARN's account in front of the endpoint's
 * host (`<account>.cloudfront-kvs.global.api.aws` deployed), so the endpoint is
 * `http://kvs.test:<port>` and the client connects through `loopbackAgent`,
 * which resolves every name to 127.0.0.1; the fake checks the Host it was sent.
 */
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';

export interface KvsCall {
  method: string;
  operation: string;
  key?: string;
  ifMatch?: string;
  status: number;
  authorization: string;
}

export interface FakeKvs {
  endpoint: string;
  arn: string;
  /** The store's items: kid → value. */
  items: Map<string, string>;
  etag(): string;
  calls: KvsCall[];
  /** For the client's `requestHandler: { httpAgent }`: every host name is 127.0.0.1. */
  loopbackAgent: Agent;
  /**
   * Runs `change` just before the next `times` writes are judged, as if another
   * writer got in between the client's Describe and its write (so their ETag is stale).
   */
  interleave(change: (items: Map<string, string>) => void, times?: number): void;
  close(): Promise<void>;
}

export async function startFakeKvs(
  options: { arn?: string; pageSize?: number; items?: Record<string, string> } = {},
): Promise<FakeKvs> {
  const arn = options.arn ?? 'arn:aws:cloudfront::123456789012:key-value-store/0e2a3f7c-9c1d-4a55-8f0e-3b1c2d4e5f60';
  const pageSize = options.pageSize ?? 50;
  const items = new Map<string, string>(Object.entries(options.items ?? {}));
  let version = 1;
  const created = Date.now() / 1000;
  let modified = created;
  const calls: KvsCall[] = [];
  let pending: { change: (items: Map<string, string>) => void; times: number } | undefined;
  const etag = () => `ETVPDKIKX0DER${version}`;
  const bump = () => {
    version++;
    modified = Date.now() / 1000;
  };
  const size = () => [...items].reduce((total, [k, v]) => total + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://kvs');
    // The SDK percent-encodes the ARN and the key as path labels.
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const ifMatch = req.headers['if-match'] as string | undefined;
    const call: KvsCall = {
      method,
      operation: '?',
      ifMatch,
      status: 0,
      authorization: String(req.headers.authorization ?? ''),
    };
    calls.push(call);
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    const error = (status: number, type: string, message: string) =>
      json(status, { Message: message, message }, { 'x-amzn-errortype': type });

    const account = arn.split(':')[4];
    if (req.headers.host !== `${account}.kvs.test:${port}`)
      return error(400, 'ValidationException', `Host ${req.headers.host}`);
    if (segments[0] !== 'key-value-stores' || segments.length < 2) return error(404, 'UnknownOperationException', '');
    if (segments[1] !== arn) return error(404, 'ResourceNotFoundException', `No key value store ${segments[1]}`);
    const key = segments[3];
    call.key = key;
    if (segments.length === 2 && method === 'GET') {
      call.operation = 'DescribeKeyValueStore';
      return json(
        200,
        {
          ItemCount: items.size,
          TotalSizeInBytes: size(),
          KvsARN: arn,
          Created: created,
          LastModified: modified,
          Status: 'READY',
        },
        { etag: etag() },
      );
    }
    if (segments[2] !== 'keys') return error(404, 'UnknownOperationException', url.pathname);
    if (segments.length === 3 && method === 'GET') {
      call.operation = 'ListKeys';
      const sorted = [...items.keys()].sort();
      const start = Number(url.searchParams.get('NextToken') ?? '0');
      const max = Math.min(pageSize, Number(url.searchParams.get('MaxResults') ?? pageSize));
      const page = sorted.slice(start, start + max).map((k) => ({ Key: k, Value: items.get(k) }));
      const next = start + max < sorted.length ? String(start + max) : undefined;
      return json(200, { Items: page, ...(next ? { NextToken: next } : {}) });
    }
    if (segments.length !== 4 || !key) return error(404, 'UnknownOperationException', url.pathname);
    if (method === 'GET') {
      call.operation = 'GetKey';
      const value = items.get(key);
      if (value === undefined) return error(404, 'ResourceNotFoundException', `No key ${key}`);
      return json(200, { Key: key, Value: value, ItemCount: items.size, TotalSizeInBytes: size() });
    }
    if (method !== 'PUT' && method !== 'DELETE') return error(405, 'UnknownOperationException', method);
    call.operation = method === 'PUT' ? 'PutKey' : 'DeleteKey';
    if (pending) {
      pending.change(items);
      bump();
      if (--pending.times <= 0) pending = undefined;
    }
    if (!ifMatch) return error(400, 'ValidationException', 'If-Match is required');
    if (ifMatch !== etag()) return error(409, 'ConflictException', `ETag ${ifMatch} is not the current ${etag()}`);
    if (method === 'PUT') {
      const value = (JSON.parse(body || '{}') as { Value?: unknown }).Value;
      if (typeof value !== 'string') return error(400, 'ValidationException', 'Value is required');
      items.set(key, value);
    } else {
      if (!items.has(key)) return error(404, 'ResourceNotFoundException', `No key ${key}`);
      items.delete(key);
    }
    bump();
    json(200, { ItemCount: items.size, TotalSizeInBytes: size() }, { etag: etag() });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const loopback: LookupFunction = (_host, options, callback) => {
    if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };
  const loopbackAgent = new Agent({ lookup: loopback });
  return {
    endpoint: `http://kvs.test:${port}`,
    loopbackAgent,
    arn,
    items,
    etag,
    calls,
    interleave: (change, times = 1) => {
      pending = { change, times };
    },
    close: () =>
      new Promise<void>((resolve) => {
        loopbackAgent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
