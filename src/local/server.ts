/**
 * The local CDN (`edge-resizer serve`, what `npm start` runs): one process with
 * an embedded S3 (s3rver) and DynamoDB (dynalite), routing like the deployed
 * distribution. Image URLs go the CloudFront way — viewer-request function,
 * cache, then on a miss the real origin-request handler, the derivatives
 * bucket, the real origin-response handler — and `/api/*`, `/originals/*` go to
 * the real API handler through its streaming shim.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { createApiHandler } from '../api/app.js';
import { type AdmissionOptions, createAdmissionGate, defaultAdmissionOptions } from '../core/admission.js';
import { createConfig, type EdgeResizerConfig, type EdgeResizerConfigInput } from '../core/config.js';
import { busyError, HttpError } from '../core/errors.js';
import { MAX_DIRECT_UPLOAD_BYTES } from '../core/limits.js';
import { createLogger, describeError, LOG_LEVELS, type LogLevel } from '../core/log.js';
import { createOriginRequestHandler } from '../edge/origin-request.js';
import { createOriginResponseHandler, type OriginResponseHandler } from '../edge/origin-response.js';
import { createApiWiring } from '../wiring/api.js';
import { createEdgeWiring } from '../wiring/edge.js';
import { localAccess, localStorageKey } from '../wiring/local.js';
import { createEdgeCache, DEFAULT_CACHE_BYTES } from './edge-cache.js';
import { createEdgePipeline } from './edge-pipeline.js';
import { startLocalStorage } from './embedded-servers.js';
import { cacheStatusOf, createImageRoute } from './image-route.js';
import { sendLocalToken } from './local-token.js';
import { createApiRequestListener } from './node-adapter.js';
import { guardProcess } from './process-guard.js';
import { sendError, sendRawError } from './reply.js';
import { createS3PartProxy, partDoorCredentials, S3_PART_PREFIX } from './s3-part-proxy.js';
import { seedSamples } from './samples.js';
import { provisionSecrets } from './secrets.js';
import { servePlayground } from './static.js';
import { loadViewerFunction, localViewerConfig } from './viewer-function.js';

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
  /** Turns signed URLs on. */
  signingSecret?: string;
  /** @default 'info' */
  logLevel?: LogLevel;
  /** Upload `fixtures/photos` under `samples/` on first start. @default true */
  seedSamples?: boolean;
  /** Edge cache bound. @default 256 MB */
  cacheBytes?: number;
  /** Overrides of the product config (limits, allowed widths…). */
  config?: EdgeResizerConfigInput;
  /** Misses rendered at once and waiting (503 `busy` beyond). @default sized to this machine's cores and memory */
  admission?: AdmissionOptions;
  /** How long staged uploads' part URLs and ids stay valid (test seam). @default 1 hour */
  stagedUploadTtlSeconds?: number;
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

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const dataDir = options.dataDir;
  const logger = createLogger(options.logLevel ?? 'info', options.log);
  // Metrics lines (embedded metric format) go where the log goes, at `info` like the request log.
  const metrics =
    LOG_LEVELS.indexOf(options.logLevel ?? 'info') <= LOG_LEVELS.indexOf('info')
      ? (options.log ?? ((line: string) => console.log(line)))
      : () => {};
  const { masterKeyPath, apiToken } = await provisionSecrets(dataDir, options.apiToken);

  const config = createConfig({
    ...options.config,
    stage: 'local',
    masterKey: { type: 'file', path: masterKeyPath },
    signing: { secret: options.signingSecret },
  });

  const storage = await startLocalStorage({
    dataDir,
    buckets: [config.originalsBucket, config.derivativesBucket, config.stagingBucket],
    s3Endpoint: options.s3Endpoint,
    dynamoEndpoint: options.dynamoEndpoint,
  });
  const { s3Endpoint, dynamoEndpoint } = storage;
  logger.info('storage', { s3: s3Endpoint, dynamodb: dynamoEndpoint, embedded: storage.embedded });

  // The deployed functions' own compositions; only how they reach storage differs (src/wiring/access.ts).
  const access = localAccess({ s3Endpoint, dynamoEndpoint });
  const edgeWiring = createEdgeWiring(config, access);
  const closeWiring: (() => void)[] = [edgeWiring.close];
  const cache = createEdgeCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);

  // One long-lived process renders every miss: bound them.
  const gate = createAdmissionGate(
    options.admission ?? defaultAdmissionOptions({ cpus: availableParallelism(), totalMemoryBytes: totalmem() }),
  );
  logger.info('admission', { slots: gate.limits.slots, queue: gate.limits.queue });

  let transformCount = 0;
  const originResponse = createOriginResponseHandler({
    ...edgeWiring,
    logger,
    metrics,
    gate,
    onTransform: () => {
      transformCount += 1;
    },
  });
  const edge = createEdgePipeline({
    originRequest: createOriginRequestHandler(config),
    originResponse: options.wrapOriginResponse ? options.wrapOriginResponse(originResponse) : originResponse,
    derivativesOrigin: `${s3Endpoint}/${config.derivativesBucket}`,
    originTimeoutMs: config.storage.timeoutMs,
    originKey: localStorageKey,
  });
  const serveImage = createImageRoute({
    // Signing keys rotate without a restart: `signing-keys.json` plays the CloudFront KeyValueStore.
    viewerFunction: loadViewerFunction(localViewerConfig(config, options.signingSecret ?? null), {
      signingKeysFile: join(dataDir, 'signing-keys.json'),
      // The route builds each request's event afresh: nothing to copy.
      ownEvents: true,
    }),
    cache,
    edge,
  });
  // The CDN's own address, once it listens: where part URLs point and the only origin the part door's CORS names.
  let publicUrl: string | undefined;
  const doorCredentials = partDoorCredentials(edgeWiring.masterKey);
  const proxyPart = createS3PartProxy({
    s3Endpoint,
    stagingBucket: config.stagingBucket,
    region: config.region,
    credentials: doorCredentials,
    publicUrl: () => publicUrl,
  });
  // Built once the CDN's own address is known: staged uploads' part URLs point at it (see s3-part-proxy.ts).
  let api: ((req: IncomingMessage, res: ServerResponse) => Promise<void> | void) | undefined;
  async function createApi(publicUrl: string) {
    const apiWiring = createApiWiring(config, access, {
      apiToken: async () => apiToken,
      checkOrigin: false,
      // What a CloudFront invalidation of `/<key>*` does to the edge cache.
      invalidate: async (key: string) => {
        cache.invalidate(`/${key}`);
      },
      partUrls: { endpoint: `${publicUrl}${S3_PART_PREFIX}`, credentials: doorCredentials },
      logger,
      stagedUploadTtlSeconds: options.stagedUploadTtlSeconds,
    });
    closeWiring.push(apiWiring.close);
    // CloudFormation makes the table deployed; here it is made once, on start.
    await apiWiring.metadata.ensureTable();
    // A function URL refuses an event over 6 MB before the function runs: so does this door.
    return createApiRequestListener(createApiHandler({ ...apiWiring, metrics }), {
      maxBodyBytes: MAX_DIRECT_UPLOAD_BYTES,
    });
  }

  // The request log is an `info` line: below that level nothing per request is done for it.
  const logRequests = LOG_LEVELS.indexOf(options.logLevel ?? 'info') <= LOG_LEVELS.indexOf('info');
  const server = createServer((req, res) => {
    if (logRequests) {
      const started = performance.now();
      res.on('finish', () => {
        const xCache = cacheStatusOf(res);
        logger.info('request', {
          method: req.method,
          path: (req.url ?? '/').split('?')[0],
          status: res.statusCode,
          cache: xCache === undefined ? undefined : xCache.split(' ')[0]?.toLowerCase(),
          ms: Math.round((performance.now() - started) * 10) / 10,
        });
      });
    }
    route(req, res).catch((error: unknown) => {
      logger.error('request failed', describeError(error));
      if (!res.headersSent) sendError(res, new HttpError('internal_error', 'Internal error'));
      else res.destroy();
    });
  });

  // Requests Node cannot parse (overlong headers, bad framing) still get the JSON error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const httpError =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new HttpError('headers_too_large', 'The request headers are too large')
        : new HttpError('invalid_param', 'The request is malformed');
    sendRawError(socket, httpError);
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0] ?? '/';
    if (path.startsWith('/api/') || path === '/api' || path.startsWith('/originals/')) {
      if (!api) return sendError(res, busyError('Starting; try again'));
      return api(req, res);
    }
    if (path.startsWith(`${S3_PART_PREFIX}/`)) return proxyPart(req, res);
    if (path === '/_local/token') return sendLocalToken(req, res, apiToken);
    // The local-only doors are these two and no more (docs/local-doors.md).
    if (path.startsWith('/_local/')) return sendError(res, new HttpError('not_found', 'Not found'));
    if (path === '/' || path === '/index.html') return servePlayground(res, 'index.html', req.method);
    if (path.startsWith('/_playground/')) return servePlayground(res, path.slice('/_playground/'.length), req.method);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, new HttpError('method_not_allowed', 'Image URLs take GET or HEAD'), { Allow: 'GET, HEAD' });
    }
    return serveImage(req, res);
  }

  const port = options.port ?? 3000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  }).catch(async (error: unknown) => {
    // A port in use must not leave the embedded servers running.
    for (const close of closeWiring) close();
    await storage.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  publicUrl = url;
  const unguard = guardProcess(logger);

  async function close() {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Requests still running get a moment to finish, then their sockets are cut.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    for (const close of closeWiring) close();
    await storage.close();
    unguard();
  }

  try {
    api = await createApi(url);
    if (options.seedSamples ?? true) await seedSamples({ url, apiToken, dataDir, logger });
  } catch (error) {
    await close();
    throw error;
  }

  return { url, apiToken, config, transforms: () => transformCount, close };
}
