/**
 * What one origin-response request did, for its metrics line (src/core/metrics.ts):
 * the storage seen through a per-request wrapper that notes the original's and
 * the derivative's sizes, and the CloudFront result read back (a generated
 * 200, a 302, an error's JSON code, or the origin's own response passed on).
 */
import { TAG_BYTES } from '../core/envelope.js';
import { PLAYGROUND_PATH_PREFIX } from '../core/keys.js';
import { type MetricsRecord, originResponseRecord, parseServerTiming } from '../core/metrics.js';
import type { RenderDeps } from '../core/render.js';
import {
  type CloudFrontResponse,
  type CloudFrontResponseEvent,
  type CloudFrontResultResponse,
  getHeader,
} from './cloudfront.js';

export interface ObservedRequest {
  /** The deps to render with: the same storage, its sizes noted. */
  deps: RenderDeps;
  /** The request's metrics record; undefined for what is not an image request (the playground's files). */
  record(
    event: CloudFrontResponseEvent,
    result: CloudFrontResponse | CloudFrontResultResponse,
  ): MetricsRecord | undefined;
}

export function observeRequest(deps: RenderDeps): ObservedRequest {
  const startedAt = performance.now();
  let originalBytes: number | undefined;
  let stored: { bytes: number; contentType: string; ms: number } | undefined;
  const storage = deps.storage;
  const observed: RenderDeps = {
    ...deps,
    storage: {
      ...storage,
      async getOriginal(key, options) {
        const original = await storage.getOriginal(key, options);
        if (original) originalBytes = Math.max(0, original.length - TAG_BYTES);
        return original;
      },
      async putDerivative(derivativeKey, body, options) {
        const start = performance.now();
        await storage.putDerivative(derivativeKey, body, options);
        stored = { bytes: body.length, contentType: options.contentType, ms: performance.now() - start };
      },
    },
  };

  return {
    deps: observed,
    record(event, result) {
      const { request, response } = event.Records[0].cf;
      if (request.uri.startsWith(PLAYGROUND_PATH_PREFIX)) return undefined;
      const durationMs = performance.now() - startedAt;
      const status = Number(result.status);
      if (result === response) return originResponseRecord(deps.config.stage, { kind: 'stored', durationMs });
      const generated = result as CloudFrontResultResponse;
      if (status === 200) {
        const body = generated.body ?? '';
        return originResponseRecord(deps.config.stage, {
          kind: 'miss',
          durationMs,
          contentType: getHeader(generated.headers, 'content-type'),
          timings: parseServerTiming(getHeader(generated.headers, 'server-timing')),
          outputBytes: generated.bodyEncoding === 'base64' ? Buffer.byteLength(body, 'base64') : body.length,
          originalBytes,
        });
      }
      if (status === 302) {
        return originResponseRecord(deps.config.stage, {
          kind: 'redirect',
          durationMs,
          contentType: stored?.contentType,
          timings: stored ? { store: stored.ms } : {},
          outputBytes: stored?.bytes,
          originalBytes,
        });
      }
      return originResponseRecord(deps.config.stage, { kind: 'error', durationMs, errorCode: errorCodeOf(generated) });
    },
  };
}

/** The error code (`not_found`, `busy`…) from a generated error's JSON body. */
function errorCodeOf(result: CloudFrontResultResponse): string {
  try {
    const code = (JSON.parse(result.body ?? '') as { code?: unknown }).code;
    if (typeof code === 'string' && /^[a-z_]{1,64}$/.test(code)) return code;
  } catch {
    // not JSON: fall through
  }
  return `http_${Number(result.status) || 0}`;
}
