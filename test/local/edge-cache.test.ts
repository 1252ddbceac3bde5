import { expect } from 'chai';
import {
  cacheTtlSeconds,
  createEdgeCache,
  ERROR_CACHING_MIN_TTL_SECONDS,
  IMAGE_CACHE_POLICY,
} from '../../src/local/edge-cache.js';
import type { EdgeResponse } from '../../src/local/edge-pipeline.js';

function response(body: string, cacheControl = 'public, max-age=60'): EdgeResponse {
  return { status: 200, headers: { 'cache-control': cacheControl }, body: Buffer.from(body) };
}

describe('local/edge-cache', () => {
  it('answers a fresh entry from peek, without a promise, and nothing once it expired', async () => {
    let clock = 1_000_000;
    const cache = createEdgeCache(1024 * 1024, () => clock);
    expect(cache.peek('/a.jpg?width=10|*/*')).to.equal(undefined);
    const stored = response('a');
    const miss = await cache.get('/a.jpg?width=10|*/*', async () => stored);
    expect(miss.hit).to.equal(false);
    expect(cache.peek('/a.jpg?width=10|*/*')).to.equal(stored);
    clock += 60_000;
    expect(cache.peek('/a.jpg?width=10|*/*'), 'expired').to.equal(undefined);
    let trips = 0;
    const again = await cache.get('/a.jpg?width=10|*/*', async () => {
      trips += 1;
      return response('a2');
    });
    expect(again.hit, 'an expired entry goes to the origin').to.equal(false);
    expect(trips).to.equal(1);
  });

  it('peeks nothing for a trip under way, which get joins as a hit', async () => {
    const cache = createEdgeCache();
    let release: (value: EdgeResponse) => void = () => undefined;
    const first = cache.get('/b.jpg', () => new Promise<EdgeResponse>((resolve) => (release = resolve)));
    expect(cache.peek('/b.jpg')).to.equal(undefined);
    const joined = cache.get('/b.jpg', () => Promise.reject(new Error('a second trip')));
    release(response('b'));
    expect((await first).hit).to.equal(false);
    const second = await joined;
    expect(second.hit).to.equal(true);
    expect(second.response.body.toString()).to.equal('b');
  });

  it('counts a peek as a use: the least recently used entry is the one evicted', async () => {
    // Each entry counts its body plus 512 bytes: room for two of these, not three.
    const cache = createEdgeCache(2 * (512 + 100) + 50);
    await cache.get('/old.jpg', async () => response('o'.repeat(100)));
    await cache.get('/new.jpg', async () => response('n'.repeat(100)));
    expect(cache.peek('/old.jpg')).to.not.equal(undefined);
    await cache.get('/third.jpg', async () => response('t'.repeat(100)));
    expect(cache.peek('/old.jpg'), 'peeked last, so kept').to.not.equal(undefined);
    expect(cache.peek('/new.jpg'), 'least recently used').to.equal(undefined);
    expect(cache.peek('/third.jpg')).to.not.equal(undefined);
  });

  it('does not keep no-store or private responses', async () => {
    const cache = createEdgeCache();
    await cache.get('/n.jpg', async () => response('n', 'no-store'));
    await cache.get('/p.jpg', async () => response('p', 'private, max-age=60'));
    expect(cache.peek('/n.jpg')).to.equal(undefined);
    expect(cache.peek('/p.jpg')).to.equal(undefined);
  });

  // CloudFront Developer Guide, "Manage how long content stays in the cache (expiration)" and
  // "Control how long CloudFront caches errors": the policy's TTLs bound the origin's Cache-Control.
  it('keeps what says nothing for the DefaultTTL (an error for 10 s), and holds max-age within MinTTL..MaxTTL', async () => {
    expect(cacheTtlSeconds(undefined)).to.equal(IMAGE_CACHE_POLICY.defaultTtl);
    expect(cacheTtlSeconds('public')).to.equal(86_400);
    expect(cacheTtlSeconds(undefined, IMAGE_CACHE_POLICY, 404)).to.equal(ERROR_CACHING_MIN_TTL_SECONDS);
    expect(cacheTtlSeconds('max-age=999999999')).to.equal(IMAGE_CACHE_POLICY.maxTtl);
    expect(cacheTtlSeconds('max-age=60, s-maxage=120')).to.equal(120);
    expect(cacheTtlSeconds('no-store, max-age=60')).to.equal(0);
    expect(cacheTtlSeconds('max-age=0')).to.equal(0);
    let clock = 0;
    const cache = createEdgeCache(1024 * 1024, () => clock);
    await cache.get('/silent.jpg|*/*', async () => ({ status: 200, headers: {}, body: Buffer.from('a') }));
    clock += 86_399_000;
    expect(cache.peek('/silent.jpg|*/*'), 'kept for a day, as CloudFront would').to.not.equal(undefined);
    clock += 1000;
    expect(cache.peek('/silent.jpg|*/*')).to.equal(undefined);
  });
});
