/**
 * Image URLs through the local CDN the CloudFront way: the viewer-request
 * function, the edge cache (keyed as the deployed cache policy), and on a miss
 * the edge pipeline (origin-request, the S3 origin, origin-response); then
 * `If-None-Match`, `HEAD` and `X-Cache` as CloudFront answers them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, HttpError } from '../core/errors.js';
import type { CloudFrontHeaders } from '../edge/cloudfront.js';
import { checkReadOnlyHeaders, DISALLOWED_HEADER, READ_ONLY_HEADERS } from '../edge/result-rules.js';
import type { EdgeCache } from './edge-cache.js';
import type { EdgeResponse, ViewerRequest } from './edge-pipeline.js';
import {
  isViewerResponse,
  toQueryString,
  type ViewerEvent,
  type ViewerResponse,
  type ViewerResult,
  type ViewerValue,
  viewerEvent,
} from './viewer-function.js';

export interface ImageRouteOptions {
  viewerFunction: (event: ViewerEvent) => ViewerResult | Promise<ViewerResult>;
  cache: EdgeCache;
  edge: (request: ViewerRequest) => Promise<EdgeResponse>;
}

/**
 * The `X-Cache` each image response was given, for the request log (it is
 * written with the head, not set before): a property of the response rather
 * than a WeakMap entry, which costs every minor GC an ephemeron to trace.
 */
const X_CACHE = Symbol('x-cache');
type Tagged = ServerResponse & { [X_CACHE]?: string };

export function cacheStatusOf(res: ServerResponse): string | undefined {
  return (res as Tagged)[X_CACHE];
}

function tag(res: ServerResponse, xCache: string): void {
  (res as Tagged)[X_CACHE] = xCache;
}

export function createImageRoute({ viewerFunction, cache, edge }: ImageRouteOptions) {
  /**
   * The head of each cached response, hit and miss, built once per response:
   * every hit on an entry is the same object, and its headers do not change.
   */
  const heads = new WeakMap<EdgeResponse, { hit?: Record<string, string>; miss?: Record<string, string> }>();

  function headOf(response: EdgeResponse, hit: boolean): Record<string, string> {
    let entry = heads.get(response);
    if (!entry) {
      entry = {};
      heads.set(response, entry);
    }
    const known = hit ? entry.hit : entry.miss;
    if (known) return known;
    // CloudFront's own errors (`LambdaValidationError from cloudfront`) name themselves.
    const outgoing: Record<string, string> = {
      'x-cache': response.headers['x-cache'] ?? `${hit ? 'Hit' : 'Miss'} from cloudfront`,
    };
    for (const [name, value] of Object.entries(response.headers)) {
      if (name === 'x-cache') continue;
      if (name === 'x-resizer-location') continue;
      // Server-Timing describes the transform of the miss that made the object: a hit did none.
      if (hit && name === 'server-timing') continue;
      outgoing[name] = value;
    }
    outgoing['content-length'] = String(response.body.length);
    if (hit) entry.hit = outgoing;
    else entry.miss = outgoing;
    return outgoing;
  }

  return async function serveImage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const uri = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const rawQuery = queryStart === -1 ? '' : rawUrl.slice(queryStart + 1);

    // Header names are the client's: `viewerEvent` keeps them in a map without a prototype.
    const event = viewerEvent(req.method ?? 'GET', uri, rawQuery, req.headers, req.socket.remoteAddress ?? '127.0.0.1');
    const readOnly = readOnlyViewerHeaders(event.request.headers);
    const result = await viewerFunction(event);
    const problem = isViewerResponse(result) ? undefined : checkViewerRequestResult(readOnly, result.headers);
    if (problem) {
      tag(res, 'FunctionValidationError from cloudfront');
      res.writeHead(502, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'x-cache': 'FunctionValidationError from cloudfront',
      });
      const error = new HttpError('lambda_validation_error', `${FUNCTION_VALIDATION_FAILED}: ${problem}.`);
      res.end(JSON.stringify(errorBody(error)));
      return;
    }
    if (isViewerResponse(result)) {
      tag(res, 'FunctionGeneratedResponse from cloudfront');
      return sendViewerResponse(res, result);
    }

    const querystring = toQueryString(result.querystring);
    const accept = result.headers.accept?.value ?? '*/*';
    // The deployed cache policy's key: path, the image params, the normalized Accept.
    const cacheKey = `${result.uri}?${querystring}|${accept}`;
    const cached = cache.peek(cacheKey);
    const { response, hit } = cached
      ? { response: cached, hit: true }
      : await cache.get(cacheKey, () => {
          const location = result.headers['x-resizer-location']?.value;
          return edge({
            // CloudFront fills its cache with GET even when the first viewer asked with HEAD.
            method: 'GET',
            uri: result.uri,
            querystring,
            headers: { Accept: accept, ...(location ? { 'X-Resizer-Location': location } : {}) },
          });
        });
    const head = headOf(response, hit);
    tag(res, head['x-cache'] as string);
    const etag = response.headers.etag;
    if (response.status === 200 && etag && matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
      const notModified: Record<string, string> = { 'x-cache': head['x-cache'] as string, etag };
      for (const name of ['cache-control', 'vary']) if (head[name]) notModified[name] = head[name];
      res.writeHead(304, notModified);
      res.end();
      return;
    }
    res.writeHead(response.status, head);
    res.end(req.method === 'HEAD' ? undefined : response.body);
  };
}

/** How CloudFront words a CloudFront Functions result it refuses (`X-Cache: FunctionValidationError`). */
const FUNCTION_VALIDATION_FAILED = 'The CloudFront function result failed validation';

/** The viewer request's read-only headers as the function was handed them (it may change its event in place). */
function readOnlyViewerHeaders(headers: Record<string, ViewerValue>): CloudFrontHeaders {
  const kept: CloudFrontHeaders = {};
  for (const name of READ_ONLY_HEADERS['viewer-request']) {
    const header = headers[name];
    if (header) kept[name] = [{ value: header.value }];
  }
  return kept;
}

/**
 * The rules of "Restrictions on all edge functions" that apply to a viewer
 * function's request: read-only headers (`Host`, `Content-Length`,
 * `Transfer-Encoding`, `Via`) unchanged, no disallowed header added.
 */
function checkViewerRequestResult(
  before: CloudFrontHeaders,
  after: Record<string, ViewerValue> | undefined,
): string | undefined {
  const headers: CloudFrontHeaders = {};
  for (const name in after) {
    if (!Object.hasOwn(after, name)) continue;
    if (DISALLOWED_HEADER.test(name)) return `The function tried to add a disallowed header (${name})`;
    headers[name] = [{ value: (after[name] as ViewerValue).value }];
  }
  return checkReadOnlyHeaders('viewer-request', before, headers);
}

/** `If-None-Match` as RFC 9110 reads it: `*`, or a list of tags compared weakly. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

function sendViewerResponse(res: ServerResponse, response: ViewerResponse): void {
  const headers: Record<string, string> = { 'x-cache': 'FunctionGeneratedResponse from cloudfront' };
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
