/**
 * The local CDN's cache: what CloudFront's edge cache does for us, small.
 * Keyed like the deployed cache policy (path, the image params, normalized
 * Accept), honours `Cache-Control` (`no-store`, `private`, `max-age`,
 * `s-maxage`), bounded in bytes with least-recently-used eviction, and
 * collapses concurrent misses for one key into one origin trip, as CloudFront does.
 */
import type { EdgeResponse } from './edge-pipeline.js';

interface Entry {
  response: EdgeResponse;
  expiresAt: number;
  bytes: number;
}

export interface CacheLookup {
  response: EdgeResponse;
  /** True when no origin trip was made for this request. */
  hit: boolean;
}

/** Default 256 MB: a designer's session of variants without growing without bound. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

export function createEdgeCache(maxBytes = DEFAULT_CACHE_BYTES, now: () => number = Date.now) {
  // A Map iterates in insertion order: re-inserting on use makes the first entry the least recently used.
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<EdgeResponse>>();
  let totalBytes = 0;

  function remove(key: string) {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    totalBytes -= entry.bytes;
  }

  function store(key: string, response: EdgeResponse) {
    const ttl = cacheTtlSeconds(response.headers['cache-control'], IMAGE_CACHE_POLICY, response.status);
    if (ttl <= 0) return;
    const bytes = response.body.length + 512;
    if (bytes > maxBytes) return;
    remove(key);
    entries.set(key, { response, expiresAt: now() + ttl * 1000, bytes });
    totalBytes += bytes;
    for (const [oldest] of entries) {
      if (totalBytes <= maxBytes) break;
      remove(oldest);
    }
  }

  /** The fresh entry for `key`, now the most recently used; an expired one is dropped. */
  function fresh(key: string): EdgeResponse | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      remove(key);
      return undefined;
    }
    entries.delete(key);
    entries.set(key, entry);
    return entry.response;
  }

  return {
    /**
     * A hit answered at once, without a promise: the fresh entry for `key`, or
     * `undefined` when `get` must go to the origin (or join a trip under way).
     */
    peek(key: string): EdgeResponse | undefined {
      return fresh(key);
    },

    /** Answers from the cache, or runs `fetchFromOrigin` once for all concurrent askers of `key`. */
    async get(key: string, fetchFromOrigin: () => Promise<EdgeResponse>): Promise<CacheLookup> {
      const cached = fresh(key);
      if (cached) return { response: cached, hit: true };
      const pending = inFlight.get(key);
      if (pending) return { response: await pending, hit: true };
      const trip = fetchFromOrigin().then((response) => {
        store(key, response);
        return response;
      });
      inFlight.set(key, trip);
      try {
        return { response: await trip, hit: false };
      } finally {
        inFlight.delete(key);
      }
    },

    /** Drops every entry whose key starts with `prefix` (an invalidation of `/<key>*`). */
    invalidate(prefix: string): number {
      let dropped = 0;
      for (const key of [...entries.keys()]) {
        if (key.startsWith(prefix)) {
          remove(key);
          dropped += 1;
        }
      }
      return dropped;
    },
  };
}

export type EdgeCache = ReturnType<typeof createEdgeCache>;

/** TTL bounds of a cache policy, in seconds, as CloudFront applies them to the origin's `Cache-Control`. */
export interface CacheTtls {
  minTtl: number;
  defaultTtl: number;
  maxTtl: number;
}

/** resources/cdn.yml's `ImageCachePolicy` (a deploy test holds the two equal). */
export const IMAGE_CACHE_POLICY: CacheTtls = { minTtl: 0, defaultTtl: 86_400, maxTtl: 31_536_000 };

/**
 * CloudFront's default `ErrorCachingMinTTL`: how long it keeps a 4xx/5xx that
 * says nothing about caching ("Control how long CloudFront caches errors").
 */
export const ERROR_CACHING_MIN_TTL_SECONDS = 10;

/**
 * Seconds CloudFront keeps a response under `ttls` ("Manage how long content
 * stays in the cache (expiration)"); 0 means not at all. `no-store`,
 * `no-cache` and `private` are honoured (the policy's MinTTL is 0); a
 * `max-age`/`s-maxage` is held within MinTTL..MaxTTL; a response without
 * either is kept for the DefaultTTL (an error for ErrorCachingMinTTL).
 */
export function cacheTtlSeconds(
  cacheControl: string | undefined,
  ttls: CacheTtls = IMAGE_CACHE_POLICY,
  status = 200,
): number {
  const directives = (cacheControl ?? '')
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (ttls.minTtl === 0 && directives.some((d) => d === 'no-store' || d === 'private' || d === 'no-cache')) return 0;
  const value = (name: string) => {
    const directive = directives.find((d) => d.startsWith(`${name}=`));
    return directive === undefined ? undefined : Number(directive.slice(name.length + 1));
  };
  const given = value('s-maxage') ?? value('max-age');
  if (given === undefined || !Number.isFinite(given))
    return status >= 400 ? ERROR_CACHING_MIN_TTL_SECONDS : ttls.defaultTtl;
  return Math.min(Math.max(given, ttls.minTtl), ttls.maxTtl);
}
