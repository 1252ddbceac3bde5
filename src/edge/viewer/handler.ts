/**
 * The viewer-request CloudFront Function (runtime `cloudfront-js-2.0`) for
 * image URLs, as TypeScript: `build.ts` bundles it with the stage's config for
 * `sls package` and the local CDN. It runs on every request, cache hits
 * included, so it is where signed URLs are checked and where
 * every spelling of one variant becomes one cache key:
 *   - the path is decoded once and re-encoded one way;
 *   - the query becomes the canonical query of `param-rules.ts` (image
 *     parameters only, fixed order, defaults and what cannot matter left out,
 *     `dpr` and presets folded in), a bad value answered here with the same
 *     400 as origin-request would give;
 *   - `Accept` becomes `image/avif`, `image/webp` or `*∕*` (explicit formats: `*∕*`);
 *   - `sig` and `exp` are checked on the URL as sent, then dropped.
 * Written for CloudFront Functions' runtime like `param-rules.ts` (see there).
 */
import {
  canonicalize,
  canonicalQuery,
  decodeQuery,
  type ImageParams,
  isParamError,
  normalizeAccept,
  type PresetExpansion,
  type PresetOnlyCheck,
  parseParamsWith,
} from '../../core/param-rules.js';
import { rfc3986 } from '../../core/signing-message.js';
import type { ViewerConfig } from './config.js';
import { type CfResponse, type CfValue, error, type HmacModule, type KeyLookup } from './response.js';
import type { SignedUrlCheck } from './signature.js';

export { type CfResponse, type CfValue, error, type HmacModule, type KeyLookup } from './response.js';

export interface CfRequest {
  method: string;
  uri: string;
  /** Names and values as the viewer sent them (not decoded); what is left here goes to the origin as is. */
  querystring: Record<string, CfValue>;
  headers: Record<string, CfValue>;
  cookies?: Record<string, CfValue>;
  /**
   * The query string exactly as received, without `?`; undefined without one
   * (runtime 2.0 has it on every request: "General helper methods", CloudFront
   * Developer Guide), so the function never rebuilds it from `querystring`.
   */
  rawQueryString: () => string | undefined;
}

export interface CfEvent {
  request: CfRequest;
}

/** Header the origin-response trigger reads for the 302 of an oversized derivative (see origin-request.ts). */
export const LOCATION_HEADER = 'x-resizer-location';

/**
 * The parts of the rules only some stages use (param-rules.ts's
 * `requirePresetOnly`, `presetOnlyQuery`, `expandPreset`, signature.ts's
 * `checkSignedUrl`), null where the
 * stage has no use for them, so its bundle carries none of their code:
 * build.ts gives each exactly when the stage's config calls for it.
 */
export interface StageRules {
  /** `presetPolicy: only`. */
  presetOnlyCheck: PresetOnlyCheck | null;
  presetOnlyQuery: ((params: ImageParams) => string) | null;
  /** The stage defines presets. */
  expandPreset: PresetExpansion | null;
  /** Signing is on (`config.signingSecret`): `checkSignedUrl` of signature.ts. */
  checkSignedUrl: SignedUrlCheck | null;
}

/**
 * The handler. With `config.keyValueStore`, signing keys live in CloudFront's
 * KeyValueStore, which is async: the handler is called once without a secret
 * and answers `{ kid }`, then again with the store's value for that `kid`
 * (`''` for a retired key, `null` for one the store does not hold: for
 * `default` that means the baked `SIGNING_SECRET`). The request is not
 * touched before the signature is checked.
 */
export function createViewerHandler(config: ViewerConfig, crypto: HmacModule, rules: StageRules) {
  // Called as plain functions: runtime 2.0 (and its static check) knows no method by a mangled name.
  const presetOnlyCheck = rules.presetOnlyCheck;
  const presetOnlyQuery = rules.presetOnlyQuery;
  const expandPreset = rules.expandPreset;
  const checkSignedUrl = rules.checkSignedUrl;
  return function handle(event: CfEvent, stored?: string | null): CfRequest | CfResponse | KeyLookup {
    const request = event.request;
    // The playground (the default root object and its assets) is not an image.
    if (request.uri === '/' || request.uri.indexOf('/_playground/') === 0) return request;

    const raw = request.rawQueryString();
    const pairs = raw == null ? [] : decodeQuery(raw);
    let query: string;
    let explicitFormat: boolean;
    try {
      if (checkSignedUrl) {
        const refusal = checkSignedUrl(request.uri, pairs, stored, config, crypto);
        if (refusal) return refusal;
      }
      const params = parseParamsWith(pairs, config, presetOnlyCheck, expandPreset);
      const canonical = canonicalize(params, config);
      query = presetOnlyQuery ? presetOnlyQuery(params) : canonicalQuery(canonical, config);
      explicitFormat = canonical.format !== 'auto';
    } catch (e) {
      if (isParamError(e)) return error(400, 'invalid_param', e.message);
      throw e;
    }

    // Where to send the viewer back to if the derivative is too large to generate
    // (origin-response): the path and query as received, `sig` and `exp` included.
    request.headers[LOCATION_HEADER] = { value: headerSafe(request.uri + (raw == null ? '' : '?' + raw)) };
    request.uri = canonicalPath(request.uri);
    const querystring: Record<string, CfValue> = {};
    const parts = query === '' ? [] : query.split('&');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const eq = part.indexOf('=');
      querystring[part.slice(0, eq)] = { value: part.slice(eq + 1) };
    }
    request.querystring = querystring;
    const accept = request.headers.accept ? request.headers.accept.value : undefined;
    // An explicit format does not depend on Accept: one cache entry for every browser.
    request.headers.accept = { value: explicitFormat ? '*/*' : normalizeAccept(accept, config.autoAvif) };
    return request;
  };
}

/**
 * One spelling per key: decoded once, then every character but the key
 * alphabet's percent-encoded, so `/a%2Fb.jpg`, `/a/%62.jpg` and `/a/b.jpg` are
 * one cache entry (and one purge). A malformed escape stays for origin-request
 * to refuse.
 */
function canonicalPath(uri: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(uri);
  } catch (_e) {
    return uri;
  }
  const segments = decoded.split('/');
  for (let i = 0; i < segments.length; i++) segments[i] = rfc3986(segments[i] as string);
  return segments.join('/');
}

/** Header values may not hold CR, LF or other controls: anything outside printable ASCII is percent-encoded. */
function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x7e]/g, encodeURIComponent);
}
