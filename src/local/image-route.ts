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

export function createImageRoute({ viewerFunction, cache, edge }: ImageRouteOptions) {
  return async function serveImage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const uri = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const rawQuery = queryStart === -1 ? '' : rawUrl.slice(queryStart + 1);
    // Header names are the client's: no prototype for them to reach.
    const headers: Record<string, string> = Object.create(null);
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;

    const result = await viewerFunction(
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
      res.end();
      return;
    }
    outgoing['content-length'] = String(response.body.length);
    res.writeHead(response.status, outgoing);
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
