/**
 * The distance row's measuring part (bench/lib/latency-proxy.ts) against real
 * HTTP: it holds each call for its round trip, charges a new connection its
 * handshake, counts calls made one after another but not calls made side by
 * side, and makes a `100-continue` body wait a round trip. And the one place
 * the product avoids that wait: a derivative's PUT to a real s3rver. And the
 * cache layers that model regional caches and Origin Shield.
 */
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { cacheLayer } from '../../bench/lib/cache-layers.js';
import {
  type LatencyProxy,
  type ProxyCall,
  sequentialRoundTrips,
  startLatencyProxy,
} from '../../bench/lib/latency-proxy.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

function call(proxy: LatencyProxy, agent: Agent, path: string, body?: Buffer, expectContinue = false) {
  return new Promise<number>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (body) headers['content-length'] = String(body.length);
    if (expectContinue) headers.expect = '100-continue';
    const req = request(`${proxy.url}${path}`, { method: body ? 'PUT' : 'GET', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    if (expectContinue) req.on('continue', () => req.end(body));
    else req.end(body);
  });
}

describe('bench/lib/latency-proxy', () => {
  let target: Server;
  let proxy: LatencyProxy;
  const log: ProxyCall[] = [];
  const RTT = 60;

  before(async () => {
    target = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    proxy = await startLatencyProxy({
      via: 't',
      target: `http://127.0.0.1:${(target.address() as AddressInfo).port}`,
      rttMs: RTT,
      log,
    });
  });
  after(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });
  beforeEach(() => {
    log.length = 0;
  });

  it('counts calls in series one by one, calls in parallel once, and a new connection its handshake', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      expect(await call(proxy, agent, '/a')).to.equal(200);
      expect(log[0]?.newConnection).to.equal(true);
      expect((log[0]?.end ?? 0) - (log[0]?.start ?? 0)).to.be.at.least(2 * RTT - 2);
      await call(proxy, agent, '/b');
      expect(log[1]?.newConnection).to.equal(false);
      expect(sequentialRoundTrips(log)).to.equal(3);

      log.length = 0;
      await Promise.all([call(proxy, agent, '/c'), call(proxy, agent, '/d')]);
      await call(proxy, agent, '/e');
      // The second parallel call may open a second connection: its handshake overlaps the first call.
      expect(sequentialRoundTrips(log)).to.be.oneOf([2, 3]);
      expect(sequentialRoundTrips(log.filter((c) => !c.newConnection))).to.equal(2);
    } finally {
      agent.destroy();
    }
  });

  it('makes a 100-continue body wait one round trip for the go-ahead', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      await call(proxy, agent, '/warm');
      log.length = 0;
      expect(await call(proxy, agent, '/put', Buffer.alloc(1000), true)).to.equal(200);
      expect(log[0]?.expectContinue).to.equal(true);
      expect((log[0]?.end ?? 0) - (log[0]?.start ?? 0)).to.be.at.least(2 * RTT - 2);
      expect(sequentialRoundTrips(log)).to.equal(2);
    } finally {
      agent.destroy();
    }
  });
});

describe("a derivative's PUT", () => {
  let storage: TestStorage;
  let proxy: LatencyProxy;
  const log: ProxyCall[] = [];

  before(async () => {
    storage = await startTestStorage();
    proxy = await startLatencyProxy({ via: 's3', target: storage.server.endpoint, rttMs: 0, log });
  });
  after(async () => {
    await proxy.close();
    await storage.close();
  });

  it('sends its body at once, without waiting a round trip for 100-continue, even over 2 MB', async () => {
    const store = storage.storeAt(proxy.url);
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    await store.putDerivative('big/x.jpg/w2560-hauto-q100-cover.jpeg', body, 'image/jpeg', 'no-cache', {
      metadata: { 'resizer-source': 'r' },
    });
    const put = log.find((c) => c.method === 'PUT');
    expect(put?.status).to.equal(200);
    expect(put?.expectContinue).to.equal(false);
    const stored = await storage.store.getDerivative('big/x.jpg/w2560-hauto-q100-cover.jpeg');
    expect(stored?.body.equals(body)).to.equal(true);
    expect(stored?.metadata['resizer-source']).to.equal('r');
  });
});

describe('bench/lib/cache-layers', () => {
  it('consolidates concurrent misses into one request behind it, and keeps a 200 but never a no-store answer', async () => {
    let calls = 0;
    const layer = cacheLayer(async (uri) => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      const cacheControl = uri === '/redirect' ? 'no-store' : 'public, max-age=31536000, immutable';
      return {
        status: uri === '/redirect' ? 302 : 200,
        headers: { 'cache-control': cacheControl },
        body: Buffer.alloc(0),
      };
    });
    const answers = await Promise.all([1, 2, 3].map(() => layer.fetch('/a', 'width=1')));
    expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200]);
    expect(calls).to.equal(1);
    await layer.fetch('/a', 'width=1');
    expect(calls, 'a hit').to.equal(1);
    await layer.fetch('/redirect', '');
    await layer.fetch('/redirect', '');
    expect(calls, 'the 302 is asked for again').to.equal(3);
    expect(layer.forwarded()).to.equal(3);
  });
});
