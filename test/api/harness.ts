/**
 * The API as the tests see it: the real handler behind `createApiRequestListener`
 * on a Node server on 127.0.0.1, over a real s3rver and dynalite, driven
 * through real HTTP.
 */

import { randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type ApiDeps, createApiHandler } from '../../src/api/app.js';
import type { EdgeResizerConfigInput } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { createApiRequestListener } from '../../src/local/node-adapter.js';
import type { ImageVersion } from '../../src/storage/metadata-store.js';
import { createStagingStore } from '../../src/storage/staging-store.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  json(): any;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** The bearer token to send; false sends none. @default the API token */
  token?: string | false;
}

export interface ApiHarness {
  storage: TestStorage;
  dynamo: TestDynamo;
  url: string;
  token: string;
  deps: ApiDeps;
  /** Keys passed to `invalidate`. */
  invalidated: string[];
  /** Log lines at error level. */
  errors: string[];
  /** Bytes the server has read from the socket of the connection whose client port is `clientPort`. */
  serverBytesRead(clientPort: number): number | undefined;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** The response head, with the body left to read as a stream. */
  open(method: string, path: string, options?: RequestOptions): Promise<IncomingMessage>;
  originalKeys(): Promise<string[]>;
  stagingKeys(): Promise<string[]>;
  derivativeKeys(): Promise<string[]>;
  items(): Promise<ImageVersion[]>;
  close(): Promise<void>;
}

export async function startApi(
  options: { config?: EdgeResizerConfigInput; wrap?: (deps: ApiDeps) => ApiDeps; stagedUploadTtlSeconds?: number } = {},
): Promise<ApiHarness> {
  const [storage, dynamo] = await Promise.all([startTestStorage(options.config), startTestDynamo()]);
  const token = randomBytes(18).toString('base64url');
  const invalidated: string[] = [];
  const errors: string[] = [];
  const baseDeps: ApiDeps = {
    config: storage.config,
    store: storage.store,
    metadata: dynamo.metadata,
    masterKey: async () => storage.masterKey,
    apiToken: async () => token,
    logger: createLogger('error', (line) => errors.push(line)),
    invalidate: async (key) => {
      invalidated.push(key);
    },
    // The storage helper's s3rver has the staging bucket already.
    staging: createStagingStore({ client: storage.client, bucket: storage.config.stagingBucket }),
    stagedUploadTtlSeconds: options.stagedUploadTtlSeconds,
  };
  const deps = options.wrap ? options.wrap(baseDeps) : baseDeps;
  const server: Server = createServer(
    createApiRequestListener(createApiHandler(deps), { onError: (error) => errors.push(`adapter: ${String(error)}`) }),
  );
  const sockets = new Map<number, Socket>();
  server.on('connection', (socket: Socket) => {
    if (socket.remotePort !== undefined) sockets.set(socket.remotePort, socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  function open(method: string, path: string, { headers = {}, body, token: sent = token }: RequestOptions = {}) {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const all: Record<string, string> = { ...headers };
      if (sent !== false) all.authorization = `Bearer ${sent}`;
      if (body !== undefined) all['content-length'] = String(Buffer.byteLength(body));
      const req = httpRequest(`${url}${path}`, { method, headers: all, agent: false }, resolve);
      req.on('error', reject);
      req.end(body);
    });
  }

  async function request(method: string, path: string, requestOptions?: RequestOptions): Promise<ApiResponse> {
    const res = await open(method, path, requestOptions);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    return { status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) };
  }

  async function keys(bucket: string): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const page = await storage.client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const item of page.Contents ?? []) if (item.Key) found.push(item.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort();
  }

  return {
    storage,
    dynamo,
    url,
    token,
    deps,
    invalidated,
    errors,
    serverBytesRead: (clientPort) => sockets.get(clientPort)?.bytesRead,
    request,
    open,
    originalKeys: () => keys(storage.config.originalsBucket),
    stagingKeys: () => keys(storage.config.stagingBucket),
    derivativeKeys: () => keys(storage.config.derivativesBucket),
    async items() {
      const all: ImageVersion[] = [];
      for await (const page of dynamo.metadata.scanPages({ pageSize: 1000 })) all.push(...page);
      return all;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([storage.close(), dynamo.close()]);
    },
  };
}
