/**
 * Image URLs through the local CDN the CloudFront way: the viewer-request
 * function, the edge cache (keyed as the deployed cache policy), and on a miss
 * the edge pipeline (origin-request, the S3 origin, origin-response); then
 * `If-None-Match`, `HEAD` and `X-Cache` as CloudFront answers them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { createEdgeCache } from './edge-cache.js';
import type { EdgeResponse, ViewerRequest } from './edge-pipeline.js';
import {
  isViewerResponse,
  toQueryString,
  type ViewerEvent,
  type ViewerResponse,
  type ViewerResult,
  viewerEvent,
} from './viewer-function.js';

export interface ImageRouteOptions {
  viewerFunction: (event: ViewerEvent) => ViewerResult | Promise<ViewerResult>;
  cache: ReturnType<typeof createEdgeCache>;
  edge: (request: ViewerRequest) => Promise<EdgeResponse>;
}

/** The `X-Cache` each image response was given, for the request log (it is written with the head, not set before). */
const xCacheOf = new WeakMap<ServerResponse, string>();

export function cacheStatusOf(res: ServerResponse): string | undefined {
  return xCacheOf.get(res);
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
    const outgoing: Record<string, string> = { 'x-cache': `${hit ? 'Hit' : 'Miss'} from cloudfront` };
    for (const [name, value] of Object.entries(response.headers)) {
      if (name === 'x-resizer-location') continue;
      // Server-Timing describes the transform of the miss that made the object: a hit did none (CONTRACT.md §3).
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
    const result = await viewerFunction(
      viewerEvent(req.method ?? 'GET', uri, rawQuery, req.headers, req.socket.remoteAddress ?? '127.0.0.1'),
    );
    if (isViewerResponse(result)) {
      xCacheOf.set(res, 'FunctionGeneratedResponse from cloudfront');
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
    xCacheOf.set(res, head['x-cache'] as string);
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
