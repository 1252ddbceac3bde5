/**
 * The local CDN (`edge-resizer serve`, what `npm start` runs): one process with
 * an embedded S3 (s3rver) and DynamoDB (dynalite), routing like the deployed
 * distribution. Image URLs go the CloudFront way — viewer-request function,
 * cache, then on a miss the real origin-request handler, the derivatives
 * bucket, the real origin-response handler — and `/api/*`, `/originals/*` go to
 * the real API handler through its streaming shim.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApiHandler } from '../api/app.js';
import { createConfig, type EdgeResizerConfig, type EdgeResizerConfigInput } from '../core/config.js';
import { generateMasterKeyHex } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';
import { createLogger, describeError, type LogLevel } from '../core/log.js';
import { createOriginRequestHandler } from '../edge/origin-request.js';
import { createOriginResponseHandler, type OriginResponseHandler } from '../edge/origin-response.js';
import { createLocalWiring } from '../wiring/local.js';
import { createEdgeCache, DEFAULT_CACHE_BYTES } from './edge-cache.js';
import { createEdgePipeline } from './edge-pipeline.js';
import { type EmbeddedServer, startDynalite, startS3rver } from './embedded-servers.js';
import { sendLocalToken } from './local-token.js';
import { createApiRequestListener } from './node-adapter.js';
import { sendError, sendRawError } from './reply.js';
import { seedSamples } from './samples.js';
import { serveStatic } from './static.js';
import {
  isViewerResponse,
  loadViewerFunction,
  localViewerConfig,
  toQueryString,
  type ViewerResponse,
  viewerEvent,
} from './viewer-function.js';

export interface LocalServerOptions {
  /** State: master key, API token, S3 and DynamoDB data. @default '.data' */
  dataDir: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 3000 */
  port?: number;
  /** Use this S3-compatible server instead of the embedded one. */
  s3Endpoint?: string;
  /** Use this DynamoDB-compatible server instead of the embedded one. */
  dynamoEndpoint?: string;
  /** When set it wins and nothing is written to the data dir. */
  apiToken?: string;
  /** Turns signed URLs on (CONTRACT.md §5). */
  signingSecret?: string;
  /** @default 'info' */
  logLevel?: LogLevel;
  /** Upload `fixtures/photos` under `samples/` on first start. @default true */
  seedSamples?: boolean;
  /** Edge cache bound. @default 256 MB */
  cacheBytes?: number;
  /** Overrides of the product config (limits, allowed widths…). */
  config?: EdgeResizerConfigInput;
  /** Test seam: wraps the real origin-response handler (to count or break it). */
  wrapOriginResponse?: (handler: OriginResponseHandler) => OriginResponseHandler;
  /** Where log lines go. @default stdout */
  log?: (line: string) => void;
}

export interface LocalServer {
  url: string;
  apiToken: string;
  config: EdgeResizerConfig;
  /** Transforms done by the origin-response handler since start. */
  transforms(): number;
  close(): Promise<void>;
}

const PLAYGROUND_DIR = new URL('../../web/dist/', import.meta.url);

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const dataDir = options.dataDir;
  const logger = createLogger(options.logLevel ?? 'info', options.log);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const masterKeyPath = join(dataDir, 'master.key');
  await createSecretFile(masterKeyPath, () => `${generateMasterKeyHex()}\n`);
  const apiToken =
    options.apiToken ??
    (await createSecretFile(join(dataDir, 'api-token'), () => randomBytes(24).toString('base64url')));

  const config = createConfig({
    ...options.config,
    stage: 'local',
    masterKey: { type: 'file', path: masterKeyPath },
    signing: { secret: options.signingSecret },
  });

  const embedded: EmbeddedServer[] = [];
  const embed = (server: EmbeddedServer) => {
    embedded.push(server);
    return server.endpoint;
  };
  const s3Endpoint =
    options.s3Endpoint ??
    embed(
      await startS3rver({
        directory: join(dataDir, 's3'),
        buckets: [config.originalsBucket, config.derivativesBucket, config.stagingBucket],
      }),
    );
  const dynamoEndpoint = options.dynamoEndpoint ?? embed(await startDynalite({ directory: join(dataDir, 'dynamodb') }));
  logger.info('storage', { s3: s3Endpoint, dynamodb: dynamoEndpoint, embedded: embedded.length > 0 });

  const wiring = createLocalWiring({ config, s3Endpoint, dynamoEndpoint });
  const { store, metadata, masterKey } = wiring;
  const cache = createEdgeCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);

  let transformCount = 0;
  const originResponse = createOriginResponseHandler({
    config,
    store,
    masterKey,
    logger,
    onTransform: () => {
      transformCount += 1;
    },
  });
  const edge = createEdgePipeline({
    originRequest: createOriginRequestHandler(config),
    originResponse: options.wrapOriginResponse ? options.wrapOriginResponse(originResponse) : originResponse,
    derivativesOrigin: `${s3Endpoint}/${config.derivativesBucket}`,
    originKey: wiring.storageKey,
  });
  const viewerFunction = loadViewerFunction(localViewerConfig(config, options.signingSecret ?? null));
  const api = createApiRequestListener(
    createApiHandler({
      config,
      store,
      metadata,
      masterKey,
      apiToken: async () => apiToken,
      logger,
      // What a CloudFront invalidation of `/<key>*` does to the edge cache.
      invalidate: async (key: string) => {
        cache.invalidate(`/${key}`);
      },
    }),
  );

  const server = createServer((req, res) => {
    const started = performance.now();
    res.on('finish', () => {
      logger.info('request', {
        method: req.method,
        path: (req.url ?? '/').split('?')[0],
        status: res.statusCode,
        cache:
          res.getHeader('x-cache') === undefined
            ? undefined
            : String(res.getHeader('x-cache')).split(' ')[0]?.toLowerCase(),
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    });
    route(req, res).catch((error: unknown) => {
      logger.error('request failed', describeError(error));
      if (!res.headersSent) sendError(res, new HttpError('internal_error', 'Internal error'));
      else res.destroy();
    });
  });

  // Requests Node cannot parse (overlong headers, bad framing) still get the contract's JSON.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const httpError =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new HttpError('headers_too_large', 'The request headers are too large')
        : new HttpError('invalid_param', 'The request is malformed', { status: 400 });
    sendRawError(socket, httpError);
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0] ?? '/';
    if (path.startsWith('/api/') || path === '/api' || path.startsWith('/originals/')) return api(req, res);
    if (path === '/_local/token') return sendLocalToken(req, res, apiToken);
    if (path === '/' || path === '/index.html') return servePlayground(res, 'index.html', req.method);
    if (path.startsWith('/_playground/')) return servePlayground(res, path.slice('/_playground/'.length), req.method);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, new HttpError('method_not_allowed', 'Image URLs take GET or HEAD'), { Allow: 'GET, HEAD' });
    }
    return serveImage(req, res, rawUrl);
  }

  async function serveImage(req: IncomingMessage, res: ServerResponse, rawUrl: string) {
    const queryStart = rawUrl.indexOf('?');
    const uri = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const rawQuery = queryStart === -1 ? '' : rawUrl.slice(queryStart + 1);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;

    const result = viewerFunction(
      viewerEvent(req.method ?? 'GET', uri, rawQuery, headers, req.socket.remoteAddress ?? '127.0.0.1'),
    );
    if (isViewerResponse(result)) {
      res.setHeader('x-cache', 'FunctionGeneratedResponse from cloudfront');
      return sendViewerResponse(res, result);
    }

    const querystring = toQueryString(result.querystring);
    const accept = result.headers.accept?.value ?? '*/*';
    const location = result.headers['x-resizer-location']?.value;
    // The deployed cache policy's key: path, the image params, the normalized Accept.
    const cacheKey = `${result.uri}?${querystring}|${accept}`;
    const { response, hit } = await cache.get(cacheKey, () =>
      edge({
        // CloudFront fills its cache with GET even when the first viewer asked with HEAD.
        method: 'GET',
        uri: result.uri,
        querystring,
        headers: { Accept: accept, ...(location ? { 'X-Resizer-Location': location } : {}) },
      }),
    );
    // setHeader, not writeHead's argument, so the request log can read it back.
    res.setHeader('x-cache', `${hit ? 'Hit' : 'Miss'} from cloudfront`);
    const outgoing: Record<string, string> = { ...response.headers };
    delete outgoing['x-resizer-location'];
    // Server-Timing describes the transform of the miss that made the object: a hit did none (CONTRACT.md §3).
    if (hit) delete outgoing['server-timing'];
    const etag = response.headers.etag;
    if (response.status === 200 && etag && matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
      const notModified: Record<string, string> = { etag };
      for (const name of ['cache-control', 'vary']) if (outgoing[name]) notModified[name] = outgoing[name];
      res.writeHead(304, notModified);
      return res.end();
    }
    outgoing['content-length'] = String(response.body.length);
    res.writeHead(response.status, outgoing);
    res.end(req.method === 'HEAD' ? undefined : response.body);
  }

  async function servePlayground(res: ServerResponse, file: string, method = 'GET') {
    const served = await serveStatic(res, PLAYGROUND_DIR, file, method);
    if (served) return;
    if (file === 'index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return res.end(PLACEHOLDER_PAGE);
    }
    sendError(res, new HttpError('not_found', 'Not found'));
  }

  const port = options.port ?? 3000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  async function close() {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Requests still running get a moment to finish, then their sockets are cut.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    wiring.close();
    for (const embeddedServer of embedded.reverse()) await embeddedServer.close();
  }

  try {
    if (options.seedSamples ?? true) await seedSamples({ url, apiToken, dataDir, logger });
  } catch (error) {
    await close();
    throw error;
  }

  return { url, apiToken, config, transforms: () => transformCount, close };
}

/** `If-None-Match` as RFC 9110 reads it: `*`, or a list of tags compared weakly. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** Writes a secret file (mode 0600) once; later starts read it back. */
async function createSecretFile(path: string, make: () => string): Promise<string> {
  try {
    await writeFile(path, make(), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
  return (await readFile(path, 'utf8')).trim();
}

function sendViewerResponse(res: ServerResponse, response: ViewerResponse) {
  const headers: Record<string, string> = {};
  for (const [name, { value }] of Object.entries(response.headers ?? {})) headers[name] = value;
  const body =
    typeof response.body === 'string'
      ? response.body
      : response.body
        ? Buffer.from(response.body.data, response.body.encoding === 'base64' ? 'base64' : 'utf8')
        : '';
  res.writeHead(response.statusCode, headers);
  res.end(body);
}

const PLACEHOLDER_PAGE = `<!doctype html><meta charset="utf-8"><title>edge-resizer</title>
<h1>edge-resizer</h1><p>The playground is not built yet: run <code>npm run build:web</code>, then reload.</p>
<p>Try <a href="/samples/mountains.jpg?width=400">/samples/mountains.jpg?width=400</a>.</p>`;
