/**
 * Origin-response trigger: S3's answer for the derivative key comes back here.
 * A 200 is served when the derivative was rendered from the original as it is
 * now (else it is a miss). A 403/404 (no such derivative) is a miss: the core's
 * `renderDerivative` fills it. This file only converts: CloudFront event in,
 * core call, CloudFront result out.
 */
import type { AdmissionGate } from '../core/admission.js';
import type { EdgeResizerConfig } from '../core/config.js';
import { HttpError, toHttpError } from '../core/errors.js';
import { PLAYGROUND_PATH_PREFIX, parseDerivativeKey } from '../core/keys.js';
import { createLogger, describeError, type Logger } from '../core/log.js';
import { createMetricsEmitter, type MetricsSink } from '../core/metrics.js';
import { parseImageParams } from '../core/params.js';
import {
  checkStoredDerivative,
  DERIVATIVE_CACHE_CONTROL,
  type MissStorage,
  type RenderDeps,
  type RenderResult,
  renderDerivative,
  SOURCE_REVISION_META,
} from '../core/render.js';
import type { MasterKeyProvider } from '../storage/master-key.js';
import type { S3Store } from '../storage/s3-store.js';
import {
  type CloudFrontHeaders,
  type CloudFrontResponse,
  type CloudFrontResponseEvent,
  type CloudFrontResultResponse,
  errorResponse,
  getHeader,
  setHeader,
  statusDescription,
  toCloudFrontHeaders,
} from './cloudfront.js';
import { observeRequest } from './miss-metrics.js';
import { VIEWER_LOCATION_HEADER } from './origin-request.js';
import { READ_ONLY_HEADERS } from './result-rules.js';

export { DERIVATIVE_CACHE_CONTROL };

/** The S3 adapter's calls the miss path uses. */
export type OriginResponseStore = Pick<
  S3Store,
  'getOriginalStream' | 'headOriginal' | 'putDerivative' | 'deleteDerivative'
>;

export interface OriginResponseOptions {
  config: EdgeResizerConfig;
  store: OriginResponseStore;
  masterKey: MasterKeyProvider;
  logger?: Logger;
  /** Called after each transform, with its timings (the local CDN counts them). */
  onTransform?: (timings: Record<string, number>) => void;
  /** Bounds concurrent misses (the local CDN); Lambda@Edge runs one request per container and passes none. */
  gate?: AdmissionGate;
  /**
   * Where each request's metrics line (CloudWatch embedded metric format) goes.
   * @default stdout (console.log) with the default logger; nowhere when a `logger` is given without it
   */
  metrics?: MetricsSink;
}

export type OriginResponseHandler = (
  event: CloudFrontResponseEvent,
) => Promise<CloudFrontResponse | CloudFrontResultResponse>;

/** The revision a stored derivative records, as S3 answers it to CloudFront. */
const SOURCE_REVISION_HEADER = `x-amz-meta-${SOURCE_REVISION_META}`;

export function createOriginResponseHandler(options: OriginResponseOptions): OriginResponseHandler {
  const { config, masterKey, logger = createLogger('info'), onTransform, gate } = options;
  const shared: RenderDeps = { config, storage: missStorage(options.store), masterKey, gate, logger };
  const emitMetrics = createMetricsEmitter(options.metrics ?? (options.logger ? () => {} : undefined));

  return async (event) => {
    // One metrics line per request, from what this request did.
    const observed = observeRequest(shared);
    const result = await handle(event, observed.deps);
    const record = observed.record(event, result);
    if (record) emitMetrics(record);
    return result;
  };

  async function handle(event: CloudFrontResponseEvent, deps: RenderDeps) {
    const startedAt = performance.now();
    const { request, response } = event.Records[0].cf;
    if (request.uri.startsWith(PLAYGROUND_PATH_PREFIX)) return response;
    const negotiated = isNegotiated(request.querystring, config);
    const target = parseDerivativeKey(request.uri.slice(1));
    const status = Number(response.status);
    try {
      if (status === 200 || status === 304) {
        const recorded = getHeader(response.headers, SOURCE_REVISION_HEADER);
        const check = target
          ? await checkStoredDerivative(deps, target.key, recorded, {
              signal: AbortSignal.timeout(config.limits.transformTimeoutMs),
            })
          : 'fresh';
        if (check === 'fresh') {
          delete response.headers[SOURCE_REVISION_HEADER];
          setHeader(response.headers, 'Cache-Control', DERIVATIVE_CACHE_CONTROL);
          if (negotiated) setHeader(response.headers, 'Vary', 'Accept');
          return response;
        }
        if (check === 'gone') {
          // The original was deleted and this derivative outlived the purge: finish the purge.
          await deps.storage.deleteDerivative(request.uri.slice(1)).catch((error: unknown) => {
            logger.warn('removing a derivative of a deleted original failed', {
              uri: request.uri,
              ...describeError(error),
            });
          });
          throw new HttpError('not_found', 'No such image');
        }
        logger.info('stored derivative is of an older original; rendering again', { uri: request.uri });
      } else if (status !== 403 && status !== 404) {
        logger.error('derivatives bucket answered an error', { status, uri: request.uri });
        throw new HttpError('storage_error', 'Storage is unavailable; try again');
      }

      if (!target) throw new HttpError('not_found', 'No such image');
      const result = await renderDerivative(deps, {
        key: target.key,
        variant: target.variant,
        derivativeKey: request.uri.slice(1),
        negotiated,
        startedAt,
      });
      onTransform?.(result.timings);
      const location = getHeader(request.headers, VIEWER_LOCATION_HEADER) ?? `/${target.key}`;
      return toCloudFrontResult(result, location, response.headers);
    } catch (error) {
      const httpError = toHttpError(error);
      if (httpError.status >= 500) logger.error('transform failed', { uri: request.uri, ...describeError(error) });
      return keepReadOnlyHeaders(errorResponse(httpError), response.headers);
    }
  }
}

/**
 * The core's answer as a generated CloudFront response, carrying the read-only
 * headers of the origin's answer it replaces (`origin`, see `keepReadOnlyHeaders`).
 */
export function toCloudFrontResult(
  result: RenderResult,
  location: string,
  origin: CloudFrontHeaders = {},
): CloudFrontResultResponse {
  if (result.kind === 'image') {
    return keepReadOnlyHeaders(
      {
        status: '200',
        statusDescription: statusDescription(200),
        headers: toCloudFrontHeaders(result.headers),
        bodyEncoding: 'base64',
        body: result.body.toString('base64'),
      },
      origin,
    );
  }
  // Too large to generate: it is stored now, so send the viewer back for it.
  return keepReadOnlyHeaders(
    {
      status: '302',
      statusDescription: statusDescription(302),
      headers: toCloudFrontHeaders({ Location: location, 'Cache-Control': 'no-store' }),
      // An explicit empty body: without one, CloudFront keeps the origin's (S3's 404 XML).
      bodyEncoding: 'text',
      body: '',
    },
    origin,
  );
}

/**
 * A generated answer to an origin response must carry the origin's read-only
 * headers exactly as received: CloudFront answers 502 ("The function tried to
 * add, delete, or change a read-only header") to a result that drops or
 * changes `Transfer-Encoding` or `Via`, and S3's 403 for a missing key
 * typically arrives `Transfer-Encoding: chunked`. Nothing else of the
 * origin's is kept: its `Content-Length`, `Content-Type` and `ETag` describe
 * S3's body (the 403's XML), not ours. We never set `Content-Length`: the
 * guide does not say CloudFront recomputes a stale one on a generated body,
 * while it always frames the body it sends the viewer itself, so a carried-over
 * `chunked` contradicts nothing (the safe reading).
 */
export function keepReadOnlyHeaders(
  generated: CloudFrontResultResponse,
  origin: CloudFrontHeaders,
): CloudFrontResultResponse {
  const headers: CloudFrontHeaders = { ...generated.headers };
  delete headers['content-length'];
  for (const name of READ_ONLY_HEADERS['origin-response']) {
    const received = origin[name];
    if (received) headers[name] = received.map((header) => ({ ...header }));
    else delete headers[name];
  }
  return { ...generated, headers };
}

/** The S3 adapter seen through the core's storage interface. */
export function missStorage(store: OriginResponseStore): MissStorage {
  return {
    async getOriginal(key, options) {
      const stored = await store.getOriginalStream(key, undefined, options);
      return stored && { length: stored.totalLength, metadata: stored.metadata, body: stored.stream };
    },
    async headOriginal(key, options) {
      const head = await store.headOriginal(key, options);
      return head && { length: head.length, metadata: head.metadata };
    },
    putDerivative: (derivativeKey, body, { contentType, cacheControl, metadata, signal }) =>
      store.putDerivative(derivativeKey, body, contentType, cacheControl, { metadata, signal }),
    deleteDerivative: (derivativeKey, options) => store.deleteDerivative(derivativeKey, options),
  };
}

/** `Vary: Accept` only when the format came from `Accept`, i.e. `format` was absent or `auto`. */
function isNegotiated(querystring: string, config: EdgeResizerConfig): boolean {
  try {
    const format = parseImageParams(querystring, config).format;
    return format === undefined || format === 'auto';
  } catch {
    return false;
  }
}
