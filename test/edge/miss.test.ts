/**
 * The miss path through the origin-response handler (core `renderDerivative`)
 * against real s3rver: the time budget bounds every storage call, limits are
 * checked before bytes are downloaded, the master key is read alongside the
 * original, the 1 MB decision is made from sizes, and a full admission queue
 * answers 503 with Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import sharp from 'sharp';
import { createAdmissionGate } from '../../src/core/admission.js';
import { encryptBuffer } from '../../src/core/envelope.js';
import { createLogger } from '../../src/core/log.js';
import { FOCAL_POINT_META, generatedResponseBytes } from '../../src/core/render.js';
import {
  type CloudFrontRequest,
  type CloudFrontResultResponse,
  generatedResponseSize,
} from '../../src/edge/cloudfront.js';
import { createOriginRequestHandler } from '../../src/edge/origin-request.js';
import {
  createOriginResponseHandler,
  type OriginResponseOptions,
  type OriginResponseStore,
  toCloudFrontResult,
} from '../../src/edge/origin-response.js';
import { checkOriginResponseResult } from '../../src/edge/result-rules.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createS3Store } from '../../src/storage/s3-store.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { fixture } from '../helpers/images.js';
import { putOriginal } from '../helpers/originals.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

/** A promise with its resolve, to hold a step until the test lets it go. */
function latch<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('miss path (origin-response → renderDerivative)', () => {
  let storage: TestStorage;
  const originRequest = () => createOriginRequestHandler(storage.config);

  before(async () => {
    storage = await startTestStorage();
    await putOriginal(storage, 'photos/mountains.jpg', fixture('photos/mountains.jpg'));
  });
  after(() => storage.close());

  function handler(overrides: Partial<OriginResponseOptions> & { budgetMs?: number; maxOriginalBytes?: number }) {
    const { budgetMs, maxOriginalBytes, ...rest } = overrides;
    const limits = {
      ...storage.config.limits,
      ...(budgetMs === undefined ? {} : { transformTimeoutMs: budgetMs }),
      ...(maxOriginalBytes === undefined ? {} : { maxOriginalBytes }),
    };
    return createOriginResponseHandler({
      config: { ...storage.config, limits },
      store: storage.store,
      masterKey: async () => storage.masterKey,
      logger: createLogger('silent'),
      ...rest,
    });
  }

  async function miss(
    originResponse: ReturnType<typeof createOriginResponseHandler>,
    querystring: string,
    uri = '/photos/mountains.jpg',
  ) {
    const request = (await originRequest()(
      originRequestEvent({ uri, querystring, accept: 'image/webp' }),
    )) as CloudFrontRequest;
    return { request, result: (await originResponse(originResponseEvent(request, 404))) as CloudFrontResultResponse };
  }

  it('bounds the derivative store by the time left in the budget, and still answers the image', async () => {
    let signalled = false;
    const store: OriginResponseStore = {
      ...storage.store,
      // A store that never answers (S3 retrying a throttled PUT): only the budget's signal ends it.
      putDerivative: (_key, _body, _type, _cache, options = {}) =>
        new Promise<void>((_, reject) => {
          options.signal?.addEventListener('abort', () => {
            signalled = true;
            reject(options.signal?.reason);
          });
        }),
    };
    const { request, result } = await miss(handler({ store, budgetMs: 4000 }), 'width=41');
    expect(signalled, 'the store call was given the budget signal, which fired').to.equal(true);
    expect(result.status).to.equal('200');
    const image = await sharp(Buffer.from(result.body ?? '', 'base64')).metadata();
    expect(image.format).to.be.oneOf(['webp', 'jpeg']); // WebP negotiated; never heavier than the JPEG
    expect(image.width).to.equal(41);
    expect(result.headers?.['server-timing']?.[0]?.value).to.match(/store;dur=/);
    expect(await storage.store.getDerivative(request.uri.slice(1))).to.equal(undefined);
  });

  it('answers 503 busy with Retry-After when a derivative too large to answer cannot be stored in time', async () => {
    const store: OriginResponseStore = {
      ...storage.store,
      putDerivative: (_key, _body, _type, _cache, options = {}) =>
        new Promise<void>((_, reject) => {
          options.signal?.addEventListener('abort', () => reject(options.signal?.reason));
        }),
    };
    await putOriginal(storage, 'big/wide.jpg', fixture('bench/seeding-2560x1600.jpg'));
    const { result } = await miss(handler({ store, budgetMs: 6000 }), 'format=png', '/big/wide.jpg');
    expect(result.status).to.equal('503');
    expect(JSON.parse(result.body ?? '')).to.include({ code: 'busy' });
    expect(result.headers?.['retry-after']?.[0]?.value).to.match(/^\d+$/);
  });

  it('refuses an original over the size limit from its length, without reading its body', async () => {
    let bodyRead = false;
    const store: OriginResponseStore = {
      ...storage.store,
      async getOriginalStream(key, range, options) {
        const stored = await storage.store.getOriginalStream(key, range, options);
        if (!stored) return stored;
        stored.stream.destroy();
        const untouchable = new Readable({
          read() {
            bodyRead = true;
            this.push(null);
          },
        });
        return { ...stored, stream: untouchable };
      },
    };
    const { result } = await miss(handler({ store, maxOriginalBytes: 10_000 }), 'width=42');
    expect(result.status).to.equal('413');
    expect(JSON.parse(result.body ?? '')).to.include({ code: 'too_large' });
    expect(bodyRead, 'the body was read before the limit was checked').to.equal(false);
  });

  it('downloads no more than socket buffers of an original over the size limit (counted on the wire)', async () => {
    const size = 16 * 1024 * 1024;
    await putOriginal(storage, 'big/over-limit.bin', randomBytes(size));
    // A proxy in front of s3rver that counts the body bytes S3 sends for originals; it forwards
    // only as fast as the client reads (backpressure), so an unread body stops in the buffers.
    let forwarded = 0;
    const upstream = new URL(storage.server.endpoint);
    const proxy = createServer((req, res) => {
      const outgoing = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          if (req.method === 'GET' && (req.url ?? '').includes('over-limit')) {
            answer.on('data', (chunk: Buffer) => {
              forwarded += chunk.length;
            });
          }
          answer.pipe(res);
          res.on('close', () => answer.destroy());
        },
      );
      outgoing.on('error', () => res.destroy());
      req.pipe(outgoing);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const client = createS3Client({
      region: storage.config.region,
      endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      credentials: LOCAL_CREDENTIALS,
      ...storage.config.storage,
    });
    try {
      const store = createS3Store({
        client,
        originalsBucket: storage.config.originalsBucket,
        derivativesBucket: storage.config.derivativesBucket,
      });
      const { result } = await miss(
        handler({ store, maxOriginalBytes: 1024 * 1024 }),
        'width=48',
        '/big/over-limit.bin',
      );
      expect(result.status).to.equal('413');
      expect(forwarded, `${forwarded} of ${size} bytes sent`).to.be.below(size / 2);
    } finally {
      client.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('reads the master key alongside the original, not after it', async () => {
    // Each side waits until the other has started: in series, neither ever finishes.
    const keyAsked = latch();
    const originalAsked = latch();
    const store: OriginResponseStore = {
      ...storage.store,
      async getOriginalStream(key, range, options) {
        originalAsked.open();
        await keyAsked.promise;
        return storage.store.getOriginalStream(key, range, options);
      },
    };
    const masterKey = async () => {
      keyAsked.open();
      await originalAsked.promise;
      return storage.masterKey;
    };
    const { result } = await miss(handler({ store, masterKey, budgetMs: 5000 }), 'width=43');
    expect(result.status).to.equal('200');
    expect((await sharp(Buffer.from(result.body ?? '', 'base64')).metadata()).width).to.equal(43);
  });

  // "Restrictions on all edge functions": Transfer-Encoding and Via are read-only in an origin-response result.
  it("carries the origin answer's Transfer-Encoding and Via into the image and the 302, and nothing else of it", () => {
    const origin = {
      'transfer-encoding': [{ key: 'Transfer-Encoding', value: 'chunked' }],
      via: [{ key: 'Via', value: '1.1 a1b2c3.cloudfront.net (CloudFront)' }],
      'content-length': [{ key: 'Content-Length', value: '243' }],
      'content-type': [{ key: 'Content-Type', value: 'application/xml' }],
    };
    const image = toCloudFrontResult(
      { kind: 'image', headers: { 'Content-Type': 'image/webp' }, body: Buffer.from('img'), timings: {} },
      '/x.jpg',
      origin,
    );
    const redirect = toCloudFrontResult({ kind: 'stored-too-large', timings: {} }, '/x.jpg?width=9', origin);
    for (const result of [image, redirect]) {
      expect(checkOriginResponseResult({ status: '403', headers: origin }, result)).to.equal(undefined);
      expect(result.headers?.['transfer-encoding']).to.deep.equal(origin['transfer-encoding']);
      expect(result.headers?.via).to.deep.equal(origin.via);
      expect(result.headers).to.not.have.any.keys('content-length');
    }
    expect(image.headers?.['content-type']?.[0]?.value).to.equal('image/webp');
    expect(redirect.headers?.location?.[0]?.value).to.equal('/x.jpg?width=9');
  });

  it('computes the generated-response size from the body length, equal to the size of the built response', () => {
    const headers = {
      'Content-Type': 'image/webp',
      'Cache-Control': 'public, max-age=31536000, immutable',
      ETag: '"0123456789abcdef0123456789abcdef"',
      'Server-Timing': 'fetch;dur=1.0, decrypt;dur=0.2, transform;dur=30.1, store;dur=4.0',
      Vary: 'Accept',
    };
    for (const bytes of [0, 1, 2, 3, 4, 1000, 786_000, 786_431, 786_432, 786_433]) {
      const body = Buffer.alloc(bytes, 7);
      const built = toCloudFrontResult({ kind: 'image', headers, body, timings: {} }, '/x.jpg');
      expect(generatedResponseBytes(bytes, headers), `${bytes} bytes`).to.equal(generatedResponseSize(built));
    }
  });

  it('answers 503 busy with Retry-After at once when the admission queue is full, and serves once a slot frees', async () => {
    const gate = createAdmissionGate({ slots: 1, queue: 0, retryAfterSeconds: 3 });
    const reached = latch();
    const release = latch();
    let held = true;
    const store: OriginResponseStore = {
      ...storage.store,
      async putDerivative(...args) {
        if (held) {
          held = false;
          reached.open();
          await release.promise;
        }
        return storage.store.putDerivative(...args);
      },
    };
    const originResponse = handler({ store, gate });
    const first = miss(originResponse, 'width=44');
    await reached.promise;
    expect(gate.load()).to.deep.equal({ active: 1, queued: 0 });

    const { result: refused } = await miss(originResponse, 'width=45');
    expect(refused.status).to.equal('503');
    expect(refused.headers?.['retry-after']?.[0]?.value).to.equal('3');
    expect(refused.headers?.['cache-control']?.[0]?.value).to.equal('no-store');
    expect(JSON.parse(refused.body ?? '')).to.include({ status: 503, code: 'busy' });

    release.open();
    expect((await first).result.status).to.equal('200');
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
    const { result: later } = await miss(originResponse, 'width=45');
    expect(later.status).to.equal('200');
  });

  it('counts the queue wait against the budget, and frees a slot only when its work has really ended', async () => {
    const gate = createAdmissionGate({ slots: 1, queue: 1 });
    const reached = latch();
    const release = latch();
    let held = true;
    const store: OriginResponseStore = {
      ...storage.store,
      // Work that ignores the budget (a fetch stuck in a socket): it keeps its slot until it ends.
      async getOriginalStream(...args) {
        if (held) {
          held = false;
          reached.open();
          await release.promise;
        }
        return storage.store.getOriginalStream(...args);
      },
    };
    const originResponse = handler({ store, gate, budgetMs: 3000 });
    const first = miss(originResponse, 'width=46');
    await reached.promise;
    const { result: queued } = await miss(originResponse, 'width=47');
    expect((await first).result.status, 'the first answered at its own budget').to.equal('503');
    expect(gate.load().active, 'and still holds its slot').to.equal(1);
    expect(queued.status).to.equal('503');
    expect(JSON.parse(queued.body ?? '')).to.include({ code: 'busy' });
    expect(queued.headers?.['retry-after']?.[0]?.value).to.match(/^\d+$/);
    expect(gate.load().queued).to.equal(0);
    release.open();
    // Once the stuck work ends, its slot is free again.
    while (gate.load().active > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gate.load()).to.deep.equal({ active: 0, queued: 0 });
  });

  it("crops on the focal point stored in the original's metadata, read with the original", async () => {
    // Left half red, right half blue: a square cover crop keeps one colour or the other.
    const halves = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#0000ff' } })
      .composite([
        {
          input: await sharp({ create: { width: 100, height: 100, channels: 3, background: '#ff0000' } })
            .png()
            .toBuffer(),
          left: 0,
          top: 0,
        },
      ])
      .png()
      .toBuffer();
    let heads = 0;
    const store: OriginResponseStore = {
      ...storage.store,
      headOriginal: (...args) => {
        heads += 1;
        return storage.store.headOriginal(...args);
      },
    };
    const originResponse = handler({ store });
    const colours: string[] = [];
    for (const [key, point] of [
      ['focal/left.png', '0.1,0.5'],
      ['focal/right.png', '0.9,0.5'],
    ] as const) {
      const { body, metadata } = encryptBuffer(halves, storage.masterKey);
      await storage.store.putOriginal(key, body, { ...metadata, [FOCAL_POINT_META]: point }, body.length);
      const { result } = await miss(originResponse, 'width=50&height=50', `/${key}`);
      expect(result.status).to.equal('200');
      const { channels } = await sharp(Buffer.from(result.body ?? '', 'base64')).stats();
      const [r, , b] = channels.map((channel) => channel.mean);
      expect(Math.abs((r ?? 0) - (b ?? 0)), `${key}: one colour only`).to.be.above(200);
      colours.push((r ?? 0) > (b ?? 0) ? 'red' : 'blue');
    }
    expect(colours).to.deep.equal(['red', 'blue']);
    // One HEAD per miss (the re-check after storing), none to find the focal point.
    expect(heads).to.equal(2);
  });
});
