/**
 * CloudFront's cache layers as the distance row models them: a layer keeps
 * what may be cached (a 200 without `no-store`, `no-cache` or `private`) and
 * consolidates concurrent requests for one object into one request to the
 * layer behind it, as a regional edge cache and Origin Shield do ("Using
 * Amazon CloudFront Origin Shield": "requests for content that is not in
 * Origin Shield's cache are consolidated with other requests for the same
 * object"). A hop between layers costs a round trip.
 */
import type { EdgeResponse } from '../../src/local/edge-pipeline.js';

export type Fetch = (uri: string, querystring: string) => Promise<EdgeResponse>;

export interface CacheLayer {
  fetch: Fetch;
  /** Requests this layer sent to the layer behind it. */
  forwarded(): number;
}

export function cacheLayer(behind: Fetch): CacheLayer {
  const stored = new Map<string, EdgeResponse>();
  const inFlight = new Map<string, Promise<EdgeResponse>>();
  let forwarded = 0;
  return {
    async fetch(uri, querystring) {
      const id = `${uri}?${querystring}`;
      const hit = stored.get(id);
      if (hit) return hit;
      let pending = inFlight.get(id);
      if (!pending) {
        forwarded += 1;
        pending = behind(uri, querystring)
          .then((response) => {
            if (isCacheable(response)) stored.set(id, response);
            return response;
          })
          .finally(() => inFlight.delete(id));
        inFlight.set(id, pending);
      }
      return pending;
    },
    forwarded: () => forwarded,
  };
}

/** A hop of `rttMs`: half on the way there, half on the way back. */
export function hop(rttMs: number, behind: Fetch): Fetch {
  return async (uri, querystring) => {
    await sleep(rttMs / 2);
    const response = await behind(uri, querystring);
    await sleep(rttMs / 2);
    return response;
  };
}

export function isCacheable(response: EdgeResponse): boolean {
  const cacheControl = response.headers['cache-control'] ?? '';
  return response.status === 200 && !/no-store|no-cache|private/.test(cacheControl);
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
