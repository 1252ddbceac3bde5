import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import sharp from 'sharp';
import { META } from '../../src/core/envelope.js';
import { createLogger } from '../../src/core/log.js';
import { originalRevision, SOURCE_REVISION_META } from '../../src/core/render.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { createOriginRequestHandler } from '../../src/edge/origin-request.js';
import { createOriginResponseHandler } from '../../src/edge/origin-response.js';
import { createEdgePipeline, type EdgeResponse } from '../../src/local/edge-pipeline.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { fixture, referenceResize, similarity } from '../helpers/images.js';
import { putOriginal } from '../helpers/originals.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

// A WebP-only Chrome (before AVIF): `format=auto` negotiates WebP (AVIF Accepts: test/edge/viewer-request.test.ts).
const CHROME_ACCEPT = 'image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

describe('edge handlers', () => {
  let storage: TestStorage;
  let transforms = 0;
  let timings: Record<string, number>[] = [];
  let originRequest: ReturnType<typeof createOriginRequestHandler>;
  let originResponse: ReturnType<typeof createOriginResponseHandler>;
  let cdn: ReturnType<typeof createEdgePipeline>;
  const errorLines: string[] = [];

  before(async () => {
    storage = await startTestStorage();
    originRequest = createOriginRequestHandler(storage.config);
    originResponse = createOriginResponseHandler({
      config: storage.config,
      store: storage.store,
      masterKey: async () => storage.masterKey,
      logger: createLogger('error', (line) => errorLines.push(line)),
      onTransform: (t) => {
        transforms += 1;
        timings.push(t);
      },
    });
    cdn = createEdgePipeline({
      originRequest,
      originResponse,
      derivativesOrigin: `${storage.server.endpoint}/${storage.config.derivativesBucket}`,
    });
    await putOriginal(storage, 'photos/mountains.jpg', fixture('photos/mountains.jpg'));
    await putOriginal(storage, 'photos/alpha.png', fixture('edge/alpha.png'));
    await putOriginal(storage, 'big/wide.jpg', fixture('bench/seeding-2560x1600.jpg'));
  });
  after(() => storage.close());
  beforeEach(() => {
    transforms = 0;
    timings = [];
  });

  const get = (uri: string, querystring = '', accept = CHROME_ACCEPT, method = 'GET') =>
    cdn({ method, uri, querystring, headers: { Accept: accept } });
  const json = (response: EdgeResponse) => JSON.parse(response.body.toString('utf8'));

  describe('origin-request', () => {
    it('rewrites the URI to the canonical derivative key and keeps the viewer URI for a redirect', async () => {
      const event = originRequestEvent({
        uri: '/photos/cat.jpg',
        querystring: 'height=300&width=400&utm=1',
        accept: CHROME_ACCEPT,
      });
      const result = (await originRequest(event)) as CloudFrontRequest;
      expect(result.uri).to.equal('/photos/cat.jpg/w400-h300-q80-cover.webp');
      expect(result.headers['x-resizer-location']).to.deep.equal([
        { key: 'X-Resizer-Location', value: '/photos/cat.jpg?height=300&width=400&utm=1' },
      ]);
      expect(result.origin).to.deep.equal(event.Records[0].cf.request.origin);
    });

    it('gives the same key for reordered params, written-out defaults and Accept strings that negotiate alike', async () => {
      const shapes = [
        { querystring: 'width=400&height=300', accept: CHROME_ACCEPT },
        { querystring: 'height=300&width=400&quality=80&fit=cover&format=auto&dpr=1', accept: 'image/webp,*/*' },
        { querystring: 'width=200&height=150&dpr=2', accept: 'image/webp;q=0.9,*/*' },
      ];
      const uris = new Set<string>();
      for (const shape of shapes) {
        uris.add(((await originRequest(originRequestEvent({ uri: '/a/b.jpg', ...shape }))) as CloudFrontRequest).uri);
      }
      expect([...uris]).to.deep.equal(['/a/b.jpg/w400-h300-q80-cover.webp']);
    });

    it('lets the playground (default root object) through untouched', async () => {
      const event = originRequestEvent({ uri: '/_playground/index.html' });
      const result = (await originRequest(event)) as CloudFrontRequest;
      expect(result.uri).to.equal('/_playground/index.html');
      const response = await originResponse(originResponseEvent(result, 200, { 'Cache-Control': 'no-cache' }));
      expect(response.headers?.['cache-control']?.[0]?.value).to.equal('no-cache');
    });

    const errors: [string, string, string][] = [
      ['/photos/cat.jpg', 'width=abc', 'invalid_param'],
      ['/photos/cat.jpg', 'width=5000', 'invalid_param'],
      ['/photos/cat.jpg', 'width=1&width=2', 'invalid_param'],
      ['/photos/cat.jpg', 'dpr=9', 'invalid_param'],
      ['/photos/cat.jpg', 'fit=stretch', 'invalid_param'],
      ['/photos/cat.jpg', 'format=bmp', 'invalid_param'],
      ['/photos/cat.jpg', 'quality=0', 'invalid_param'],
      ['/photos//cat.jpg', '', 'invalid_key'],
      ['/photos/%2e%2e/secret.jpg', '', 'invalid_key'],
      ['/_private/x.jpg', '', 'invalid_key'],
      ['/photos/caf%C3%A9.jpg', '', 'invalid_key'],
    ];
    for (const [uri, querystring, code] of errors) {
      it(`answers ${uri}?${querystring} itself with 400 ${code} as JSON`, async () => {
        const result = (await originRequest(originRequestEvent({ uri, querystring }))) as CloudFrontResultResponse;
        expect(result.status).to.equal('400');
        expect(result.headers?.['content-type']).to.deep.equal([{ key: 'Content-Type', value: 'application/json' }]);
        expect(result.headers?.['cache-control']?.[0]?.value).to.equal('no-store');
        const body = JSON.parse(result.body ?? '');
        expect(body).to.include({ status: 400, code });
        expect(body.message)
          .to.be.a('string')
          .and.not.match(/at .*\.ts|node_modules/);
      });
    }
  });

  describe('origin-response', () => {
    it('passes a 200 from S3 through with our cache headers', async () => {
      const request = (await originRequest(
        originRequestEvent({ uri: '/photos/mountains.jpg', querystring: 'width=10' }),
      )) as CloudFrontRequest;
      // A derivative is served only when it records the original's current revision.
      const revision = originalRevision((await storage.store.headOriginal('photos/mountains.jpg'))?.metadata ?? {});
      const event = originResponseEvent(request, 200, {
        'Content-Type': 'image/jpeg',
        ETag: '"abc"',
        [`x-amz-meta-${SOURCE_REVISION_META}`]: revision,
      });
      const result = await originResponse(event);
      expect(result.status).to.equal('200');
      expect(result.headers?.['cache-control']?.[0]?.value).to.equal('public, max-age=31536000, immutable');
      expect(result.headers?.vary?.[0]?.value).to.equal('Accept');
      expect(result.headers?.etag?.[0]?.value).to.equal('"abc"');
      expect('body' in result).to.equal(false);
      expect(transforms).to.equal(0);
    });

    it('treats 403 and 404 from S3 alike: a miss to fill', async () => {
      for (const status of [403, 404]) {
        const request = (await originRequest(
          originRequestEvent({ uri: '/photos/mountains.jpg', querystring: `width=${30 + status}`, accept: '*/*' }),
        )) as CloudFrontRequest;
        const result = (await originResponse(originResponseEvent(request, status))) as CloudFrontResultResponse;
        expect(result.status, `S3 ${status}`).to.equal('200');
        expect(result.bodyEncoding).to.equal('base64');
      }
      expect(transforms).to.equal(2);
    });

    it('answers 503 busy, not a CloudFront timeout, when the transform exceeds its time budget', async () => {
      const impatient = createOriginResponseHandler({
        config: { ...storage.config, limits: { ...storage.config.limits, transformTimeoutMs: 1 } },
        store: storage.store,
        masterKey: async () => storage.masterKey,
        logger: createLogger('silent'),
      });
      const request = (await originRequest(
        originRequestEvent({ uri: '/big/wide.jpg', querystring: 'width=999' }),
      )) as CloudFrontRequest;
      const result = (await impatient(originResponseEvent(request, 404))) as CloudFrontResultResponse;
      expect(result.status).to.equal('503');
      expect(JSON.parse(result.body ?? '')).to.include({ status: 503, code: 'busy' });
      expect(result.headers?.['cache-control']?.[0]?.value).to.equal('no-store');
    });

    it('answers 502 storage_error when S3 itself fails', async () => {
      const request = (await originRequest(originRequestEvent({ uri: '/photos/mountains.jpg' }))) as CloudFrontRequest;
      const result = (await originResponse(originResponseEvent(request, 500))) as CloudFrontResultResponse;
      expect(result.status).to.equal('502');
      expect(JSON.parse(result.body ?? '')).to.include({ code: 'storage_error' });
    });
  });

  describe('through CloudFront (origin-request → S3 → origin-response) against real s3rver', () => {
    it('misses, transforms, stores, then serves the stored derivative without transforming', async () => {
      const miss = await get('/photos/mountains.jpg', 'width=400&height=300');
      expect(miss.status).to.equal(200);
      // The negotiated format, or the smaller JPEG under the same key (never heavier).
      const contentType = miss.headers['content-type'];
      expect(contentType).to.be.oneOf(['image/avif', 'image/webp', 'image/jpeg']);
      expect(miss.headers['cache-control']).to.equal('public, max-age=31536000, immutable');
      expect(miss.headers.vary).to.equal('Accept');
      expect(miss.headers['server-timing']).to.match(
        /^fetch;dur=[\d.]+, decrypt;dur=[\d.]+, transform;dur=[\d.]+, store;dur=[\d.]+$/,
      );
      const meta = await sharp(miss.body).metadata();
      expect([meta.width, meta.height]).to.deep.equal([400, 300]);
      expect(`image/${meta.format === 'heif' ? 'avif' : meta.format}`).to.equal(contentType);
      const reference = await referenceResize(fixture('photos/mountains.jpg'), {
        width: 400,
        height: 300,
        fit: 'cover',
      });
      expect(await similarity(reference, miss.body)).to.be.above(0.9);
      expect(transforms).to.equal(1);

      const forwarded = (await originRequest(
        originRequestEvent({
          uri: '/photos/mountains.jpg',
          querystring: 'width=400&height=300',
          accept: CHROME_ACCEPT,
        }),
      )) as CloudFrontRequest;
      const stored = await storage.store.getDerivative(forwarded.uri.slice(1));
      expect(stored?.contentType).to.equal(contentType);
      expect(stored?.body.equals(miss.body)).to.equal(true);

      const hit = await get('/photos/mountains.jpg', 'height=300&width=400&quality=80');
      expect(hit.status).to.equal(200);
      expect(hit.body.equals(miss.body)).to.equal(true);
      expect(hit.headers['server-timing']).to.equal(undefined);
      expect(hit.headers.etag).to.equal(miss.headers.etag);
      expect(transforms).to.equal(1);
    });

    it('negotiates: JPEG stays JPEG without image/webp, PNG with alpha stays PNG', async () => {
      const jpeg = await get('/photos/mountains.jpg', 'width=120', 'image/png,image/*;q=0.8');
      expect(jpeg.headers['content-type']).to.equal('image/jpeg');
      expect((await sharp(jpeg.body).metadata()).format).to.equal('jpeg');
      const png = await get('/photos/alpha.png', 'width=64', '*/*');
      expect(png.headers['content-type']).to.equal('image/png');
      expect((await sharp(png.body).metadata()).hasAlpha).to.equal(true);
      const avif = await get('/photos/mountains.jpg', 'width=120&format=avif', CHROME_ACCEPT);
      expect(avif.headers['content-type']).to.equal('image/avif');
      expect(avif.headers.vary).to.equal(undefined);
    });

    it('answers 404 not_found, cacheable for 60 s, for a missing original', async () => {
      const response = await get('/photos/nope.jpg', 'width=100');
      expect(response.status).to.equal(404);
      expect(response.headers['cache-control']).to.equal('public, max-age=60');
      expect(json(response)).to.deep.equal({ status: 404, code: 'not_found', message: 'No such image' });
    });

    it('stores a derivative over the 1 MB generated-response limit and answers 302 to the same URL, no-store', async () => {
      const response = await get('/big/wide.jpg', 'format=png&x=1', '*/*');
      expect(response.status).to.equal(302);
      expect(response.headers.location).to.equal('/big/wide.jpg?format=png&x=1');
      expect(response.headers['cache-control']).to.equal('no-store');
      // Not S3's 404 XML for the derivative, which CloudFront would otherwise pass on.
      expect(response.body.length).to.equal(0);
      const stored = await storage.store.getDerivative('big/wide.jpg/wauto-hauto-q80-cover.png');
      expect(stored?.body.length).to.be.above(1024 * 1024);
      const again = await get('/big/wide.jpg', 'format=png&x=1', '*/*');
      expect(again.status).to.equal(200);
      expect(again.body.equals(stored!.body)).to.equal(true);
      const meta = await sharp(again.body).metadata();
      expect([meta.width, meta.height]).to.deep.equal([2560, 1600]);
      expect(transforms).to.equal(1);
    });

    it('reports the miss path of a 2560×1600 JPEG → 400 px WebP (a figure for the notes, not a limit)', async () => {
      const start = performance.now();
      const response = await get('/big/wide.jpg', 'width=400');
      const total = performance.now() - start;
      expect(response.status).to.equal(200);
      expect((await sharp(response.body).metadata()).width).to.equal(400);
      console.log(`      figure: miss path ${total.toFixed(0)} ms in all; ${response.headers['server-timing']}`);
    });

    it('answers HEAD with the same headers as GET', async () => {
      const head = await get('/photos/mountains.jpg', 'width=77', CHROME_ACCEPT, 'HEAD');
      expect(head.status).to.equal(200);
      expect(head.headers['content-type']).to.be.oneOf(['image/avif', 'image/webp', 'image/jpeg']);
      const getResponse = await get('/photos/mountains.jpg', 'width=77');
      expect(getResponse.headers['content-type']).to.equal(head.headers['content-type']);
      expect(getResponse.headers.etag).to.equal(head.headers.etag);
    });
  });

  describe('at rest', () => {
    it('stores no window of the plaintext in the originals bucket', async () => {
      const plaintext = fixture('photos/mountains.jpg');
      const raw = await storage.client.send(
        new GetObjectCommand({ Bucket: storage.config.originalsBucket, Key: 'photos/mountains.jpg' }),
      );
      const stored = Buffer.from(await raw.Body!.transformToByteArray());
      expect(stored.length).to.equal(plaintext.length + 16);
      expect(raw.Metadata?.[META.contentAlgorithm]).to.equal('AES/GCM/NoPadding');
      for (let offset = 0; offset + 16 <= plaintext.length; offset += 61) {
        if (stored.indexOf(plaintext.subarray(offset, offset + 16)) !== -1)
          expect.fail(`plaintext window at ${offset} found at rest`);
      }
      expect(stored.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).to.equal(false);
    });

    const tampers: [string, (body: Buffer, meta: Record<string, string>) => void][] = [
      [
        'body',
        (body) => {
          body[100] = (body[100] as number) ^ 1;
        },
      ],
      [
        'tag',
        (body) => {
          body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
        },
      ],
      [
        'wrapped key',
        (_body, meta) => {
          const wrapped = Buffer.from(meta[META.wrappedKey] as string, 'base64');
          wrapped[20] = (wrapped[20] as number) ^ 1;
          meta[META.wrappedKey] = wrapped.toString('base64');
        },
      ],
      [
        'IV',
        (_body, meta) => {
          const iv = Buffer.from(meta[META.iv] as string, 'base64');
          iv[0] = (iv[0] as number) ^ 1;
          meta[META.iv] = iv.toString('base64');
        },
      ],
    ];
    for (const [part, tamper] of tampers) {
      it(`answers 502 decrypt_failed for a flipped byte in the ${part}, and stores nothing`, async () => {
        const key = `tampered/${part.replace(' ', '-')}.jpg`;
        await putOriginal(storage, key, fixture('photos/fig.jpg'));
        const original = await storage.store.getOriginal(key);
        const body = Buffer.from(original!.body);
        const meta = { ...original!.metadata };
        tamper(body, meta);
        await storage.client.send(
          new PutObjectCommand({ Bucket: storage.config.originalsBucket, Key: key, Body: body, Metadata: meta }),
        );
        const response = await get(`/${key}`, 'width=100');
        expect(response.status).to.equal(502);
        expect(json(response)).to.include({ status: 502, code: 'decrypt_failed' });
        expect(response.headers['cache-control']).to.equal('no-store');
        expect(response.body.toString()).to.not.include(storage.config.originalsBucket);
        expect(await storage.store.getDerivative(`${key}/w100-hauto-q80-cover.webp`)).to.equal(undefined);
      });
    }
  });
});
