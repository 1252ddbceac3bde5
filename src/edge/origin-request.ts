/**
 * Origin-request trigger: on a cache miss, turn the image URL into the
 * derivative's S3 key, or answer a bad URL itself with the JSON error.
 * CloudFront then asks the derivatives bucket for that key; the origin-response
 * trigger makes the derivative when S3 has none.
 */
import type { EdgeResizerConfig } from '../core/config.js';
import { toHttpError } from '../core/errors.js';
import { derivativeKey, PLAYGROUND_PATH_PREFIX, parseImageKey } from '../core/keys.js';
import { canonicalVariant, negotiateFormat, parseImageParams } from '../core/params.js';
import {
  type CloudFrontRequest,
  type CloudFrontRequestEvent,
  type CloudFrontResultResponse,
  errorResponse,
  getHeader,
  setHeader,
} from './cloudfront.js';

/**
 * The path and query as the viewer sent them, set by the viewer-request
 * function (which rewrites the query) and forwarded by the origin request
 * policy, for the origin-response trigger's 302. Not `X-Edge-*`: CloudFront
 * forbids those names.
 */
export const VIEWER_LOCATION_HEADER = 'X-Resizer-Location';

/**
 * The playground's page, the distribution's `DefaultRootObject`
 * (resources/cdn.yml, without the leading `/`). The guide says CloudFront
 * requests the default root object for the root URL, not whether the
 * origin-request trigger sees `/` or the object's path: both mean the
 * playground's page here, so `/` reaches it either way.
 */
export const ROOT_OBJECT_URI = `${PLAYGROUND_PATH_PREFIX}index.html`;

export type OriginRequestHandler = (
  event: CloudFrontRequestEvent,
) => Promise<CloudFrontRequest | CloudFrontResultResponse>;

export function createOriginRequestHandler(config: EdgeResizerConfig): OriginRequestHandler {
  return async (event) => {
    const request = event.Records[0].cf.request;
    if (request.uri === '/') request.uri = ROOT_OBJECT_URI;
    if (request.uri.startsWith(PLAYGROUND_PATH_PREFIX)) return request;
    try {
      const key = parseImageKey(request.uri.slice(1));
      const params = parseImageParams(request.querystring, config);
      // The viewer function left `Accept` as one of three values; `auto-avif`, `auto-webp` or `original`.
      const variant = canonicalVariant(params, negotiateFormat(getHeader(request.headers, 'accept'), config), config);
      if (!getHeader(request.headers, VIEWER_LOCATION_HEADER)) {
        const query = request.querystring ? `?${request.querystring}` : '';
        setHeader(request.headers, VIEWER_LOCATION_HEADER, `${request.uri}${query}`);
      }
      // Keys hold only URL-safe characters (see keys.ts), so the S3 path needs no encoding.
      request.uri = `/${derivativeKey(key, variant)}`;
      return request;
    } catch (error) {
      return errorResponse(toHttpError(error));
    }
  };
}
