/**
 * Origin-response trigger: S3's answer for the derivative key comes back here.
 * A 200 passes through with our cache headers. A 403/404 (no such derivative)
 * is a miss to fill: fetch the encrypted original, decrypt, transform, store
 * the derivative (awaited, so the next miss finds it), and answer the image.
 */
import { createHash } from 'node:crypto';
import { type EdgeResizerConfig, GENERATED_RESPONSE_LIMIT_BYTES } from '../core/config.js';
import { decryptBuffer, TAG_BYTES } from '../core/envelope.js';
import { HttpError, toHttpError } from '../core/errors.js';
import { PLAYGROUND_PATH_PREFIX, parseDerivativeKey } from '../core/keys.js';
import { createLogger, describeError, type Logger } from '../core/log.js';
import { parseImageParams } from '../core/params.js';
import { inspectImage, transformImage } from '../core/transform.js';
import type { MasterKeyProvider } from '../storage/master-key.js';
import type { S3Store } from '../storage/s3-store.js';
import {
  type CloudFrontResponse,
  type CloudFrontResponseEvent,
  type CloudFrontResultResponse,
  errorResponse,
  generatedResponseSize,
  getHeader,
  setHeader,
  statusDescription,
  toCloudFrontHeaders,
} from './cloudfront.js';
import { VIEWER_LOCATION_HEADER } from './origin-request.js';

/** Derivatives never change under one key: a new version of an original purges them. */
export const DERIVATIVE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export interface OriginResponseOptions {
  config: EdgeResizerConfig;
  store: Pick<S3Store, 'getOriginal' | 'putDerivative'>;
  masterKey: MasterKeyProvider;
  logger?: Logger;
  /** Called after each transform, with its timings (the local CDN counts them). */
  onTransform?: (timings: Record<string, number>) => void;
}

export type OriginResponseHandler = (
  event: CloudFrontResponseEvent,
) => Promise<CloudFrontResponse | CloudFrontResultResponse>;

export function createOriginResponseHandler(options: OriginResponseOptions): OriginResponseHandler {
  const { config, store, masterKey, logger = createLogger('info'), onTransform } = options;

  return async (event) => {
    const { request, response } = event.Records[0].cf;
    if (request.uri.startsWith(PLAYGROUND_PATH_PREFIX)) return response;
    const negotiated = isNegotiated(request.querystring, config);
    const status = Number(response.status);
    if (status === 200 || status === 304) {
      setHeader(response.headers, 'Cache-Control', DERIVATIVE_CACHE_CONTROL);
      if (negotiated) setHeader(response.headers, 'Vary', 'Accept');
      return response;
    }
    if (status !== 403 && status !== 404) {
      logger.error('derivatives bucket answered an error', { status, uri: request.uri });
      return errorResponse(new HttpError('storage_error', 'Storage is unavailable; try again'));
    }

    const target = parseDerivativeKey(request.uri.slice(1));
    if (!target) return errorResponse(new HttpError('not_found', 'No such image'));
    try {
      const timings: Record<string, number> = {};
      const rendered = await withTimeBudget(config.limits.transformTimeoutMs, () =>
        render(target.key, target.variant, timings),
      );
      const body = rendered.data;
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;

      let stored = true;
      const storeStart = performance.now();
      try {
        await store.putDerivative(request.uri.slice(1), body, rendered.contentType, DERIVATIVE_CACHE_CONTROL);
      } catch (error) {
        // The viewer still gets its image; the next miss will try to store again.
        stored = false;
        logger.error('storing the derivative failed', { uri: request.uri, ...describeError(error) });
      }
      timings.store = performance.now() - storeStart;
      onTransform?.(timings);

      const headers: Record<string, string> = {
        'Content-Type': rendered.contentType,
        'Cache-Control': DERIVATIVE_CACHE_CONTROL,
        ETag: etag,
        'Server-Timing': Object.entries(timings)
          .map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`)
          .join(', '),
      };
      if (negotiated) headers.Vary = 'Accept';
      const result: CloudFrontResultResponse = {
        status: '200',
        statusDescription: statusDescription(200),
        headers: toCloudFrontHeaders(headers),
        bodyEncoding: 'base64',
        body: body.toString('base64'),
      };
      if (generatedResponseSize(result) <= GENERATED_RESPONSE_LIMIT_BYTES) return result;
      if (!stored) throw new HttpError('storage_error', 'The image is too large to answer before it is stored');
      // Too large to generate: it is stored now, so send the viewer back for it.
      return {
        status: '302',
        statusDescription: statusDescription(302),
        headers: toCloudFrontHeaders({
          Location: getHeader(request.headers, VIEWER_LOCATION_HEADER) ?? `/${target.key}`,
          'Cache-Control': 'no-store',
        }),
        // An explicit empty body: without one, CloudFront keeps the origin's (S3's 404 XML).
        bodyEncoding: 'text',
        body: '',
      };
    } catch (error) {
      const httpError = toHttpError(error);
      if (httpError.status >= 500) logger.error('transform failed', { uri: request.uri, ...describeError(error) });
      return errorResponse(httpError);
    }
  };

  async function render(key: string, variant: Parameters<typeof transformImage>[1], timings: Record<string, number>) {
    let start = performance.now();
    const original = await store.getOriginal(key);
    if (!original) throw new HttpError('not_found', 'No such image');
    if (original.body.length > config.limits.maxOriginalBytes + TAG_BYTES) {
      throw new HttpError(
        'too_large',
        `The original is larger than ${config.limits.maxOriginalBytes / 1024 / 1024} MB`,
      );
    }
    timings.fetch = performance.now() - start;

    start = performance.now();
    const plaintext = decryptBuffer(original.body, original.metadata, await masterKey());
    timings.decrypt = performance.now() - start;

    start = performance.now();
    const info = await inspectImage(plaintext, config);
    const rendered = await transformImage(plaintext, variant, config, info);
    timings.transform = performance.now() - start;
    return rendered;
  }
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

/** Runs `work` within `ms`, else answers 503 `busy` before CloudFront's own 30 s limit answers for us. */
async function withTimeBudget<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError('busy', 'The image took too long to prepare; try again')), ms);
  });
  try {
    return await Promise.race([work(), budget]);
  } finally {
    clearTimeout(timer);
  }
}
