import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { OBJECT_META, promoteLatest, versionObjectKey } from '../../src/api/uploads.js';
import { decryptBuffer, encryptBuffer } from '../../src/core/envelope.js';
import { HttpError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { fixture } from '../helpers/images.js';
import { type ApiHarness, type ApiResponse, startApi } from './harness.js';

const MOUNTAINS = fixture('photos/mountains.jpg');
const FOREST = fixture('photos/forest-stream.jpg');
const ALPHA = fixture('edge/alpha.png');

function expectError(response: ApiResponse, status: number, code: string) {
  expect(response.status, response.body.toString()).to.equal(status);
  expect(response.headers['content-type']).to.equal('application/json');
  expect(response.headers['cache-control']).to.equal('no-store');
  const body = response.json();
  expect(body).to.have.keys(['status', 'code', 'message']);
  expect(body).to.include({ status, code });
  expect(body.message)
    .to.be.a('string')
    .and.not.match(/edge-resizer-originals|edge-resizer-images|\bat .*\.ts|node_modules/);
}

describe('API: images', () => {
  let api: ApiHarness;

  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  /** The plaintext the edge would read at `<key>`. */
  async function served(key: string): Promise<Buffer | undefined> {
    const stored = await api.storage.store.getOriginal(key);
    return stored && decryptBuffer(stored.body, stored.metadata, api.storage.masterKey);
  }

  describe('auth', () => {
    it('answers 401 unauthorized with WWW-Authenticate: Bearer when no token is sent', async () => {
      const response = await api.request('GET', '/api/images', { token: false });
      expectError(response, 401, 'unauthorized');
      expect(response.headers['www-authenticate']).to.match(/^Bearer\b/);
    });

    it('answers 401 for another scheme and 403 forbidden for a wrong token, on every /api route', async () => {
      const basic = await api.request('GET', '/api/images/a.jpg', {
        token: false,
        headers: { authorization: 'Basic YTpi' },
      });
      expectError(basic, 401, 'unauthorized');
      for (const [method, path] of [
        ['GET', '/api/images'],
        ['POST', '/api/images'],
        ['DELETE', '/api/images/a.jpg'],
        ['GET', '/api/nothing-here'],
      ] as const) {
        expectError(await api.request(method, path, { token: `${api.token}x` }), 403, 'forbidden');
      }
    });

    it('answers an unauthenticated 50 MB upload with 401 before reading its body', async () => {
      const size = 50 * 1024 * 1024;
      const outcome = await uploadUntilAnswered(api.url, '/api/images', size);
      expect(outcome.status).to.equal(401);
      expect(outcome.connection).to.equal('close');
      // Answered while the body was still being sent, and the server read next to none of it.
      expect(outcome.sent).to.be.lessThan(size);
      const read = api.serverBytesRead(outcome.clientPort) ?? Number.POSITIVE_INFINITY;
      console.log(
        `      figure: 50 MB unauthenticated upload: client sent ${(outcome.sent / 1024 / 1024).toFixed(1)} MB, server read ${(read / 1024).toFixed(0)} KB`,
      );
      expect(read).to.be.lessThan(4 * 1024 * 1024);
    });

    it('answers 404 for an unknown /api path once authenticated, and 405 with Allow for a wrong method', async () => {
      expectError(await api.request('GET', '/api/nothing-here'), 404, 'not_found');
      const post = await api.request('POST', '/api/images/a.jpg');
      expectError(post, 405, 'method_not_allowed');
      expect(post.headers.allow).to.equal('GET, PUT, PATCH, DELETE');
      const put = await api.request('PUT', '/api/images');
      expectError(put, 405, 'method_not_allowed');
      expect(put.headers.allow).to.equal('GET, POST');
      const originals = await api.request('POST', '/originals/abc', { token: false });
      expectError(originals, 405, 'method_not_allowed');
      expect(originals.headers.allow).to.equal('GET, HEAD');
    });
  });

  describe('POST /api/images', () => {
    it('stores a new key from the sniffed type, with metadata, placeholder and the encrypted original', async () => {
      const response = await api.request('POST', '/api/images', {
        body: MOUNTAINS,
        // The declared type is wrong on purpose: the bytes decide.
        headers: { 'content-type': 'image/png', 'X-Meta-Author': 'Jane Doe', 'x-meta-caption': 'Alps at dawn' },
      });
      expect(response.status, response.body.toString()).to.equal(201);
      const body = response.json();
      expect(body.key).to.match(/^[a-z0-9]{12}\.jpg$/);
      expect(body).to.include({
        version: 1,
        contentType: 'image/jpeg',
        width: 1440,
        height: 1080,
        bytes: MOUNTAINS.length,
      });
      expect(body.url).to.equal(`/${body.key}`);
      expect(body.meta).to.deep.equal({ author: 'Jane Doe', caption: 'Alps at dawn' });
      expect(Buffer.from(body.thumbhash, 'base64').length).to.be.within(5, 40);
      expect(response.headers.location).to.equal(`/api/images/${body.key}`);

      expect((await served(body.key))?.equals(MOUNTAINS)).to.equal(true);
      const stored = await api.storage.store.getOriginal(body.key);
      expect(stored?.body.includes(MOUNTAINS.subarray(1000, 1064))).to.equal(false);
      const [item] = await api.dynamo.metadata.versions(body.key);
      expect(item).to.include({ key: body.key, version: 1, sha256: body.sha256, thumbhash: body.thumbhash });
      expect(await api.originalKeys()).to.include.members([body.key, item?.objectKey]);
    });

    it('puts the key under ?prefix= and names the extension after the format (png, and the displayed size)', async () => {
      const png = (await api.request('POST', '/api/images?prefix=p/q/', { body: ALPHA })).json();
      expect(png.key).to.match(/^p\/q\/[a-z0-9]{12}\.png$/);
      const rotated = (
        await api.request('POST', '/api/images', { body: fixture('edge/exif-orientation-6.jpg') })
      ).json();
      // Stored 300×200 with orientation 6: displayed 200×300.
      expect(rotated).to.include({ width: 200, height: 300 });
    });
  });

  describe('GET, PUT, DELETE /api/images/<key>', () => {
    it('creates with PUT (201), reads it back with versions and a working originalUrl', async () => {
      const put = await api.request('PUT', '/api/images/gallery/forest.jpg', {
        body: FOREST,
        headers: { 'x-meta-credit': 'someone' },
      });
      expect(put.status).to.equal(201);
      expect(put.json()).to.include({ key: 'gallery/forest.jpg', version: 1 });

      const get = await api.request('GET', '/api/images/gallery/forest.jpg');
      expect(get.status).to.equal(200);
      const body = get.json();
      expect(body).to.include({
        key: 'gallery/forest.jpg',
        version: 1,
        contentType: 'image/jpeg',
        width: 1280,
        height: 852,
      });
      expect(body.meta).to.deep.equal({ credit: 'someone' });
      expect(body.versions).to.have.length(1);
      expect(body.versions[0]).to.include({ version: 1, bytes: FOREST.length, sha256: put.json().sha256 });
      expect(body.versions[0].created).to.equal(put.json().created);
      expect(body.originalUrl).to.match(/^\/originals\/[A-Za-z0-9_-]+$/);
      const original = await api.request('GET', body.originalUrl, { token: false });
      expect(original.status).to.equal(200);
      expect(original.body.equals(FOREST)).to.equal(true);
    });

    it('replaces with PUT: 200, version 2, derivatives purged and invalidated, version 1 still downloadable', async () => {
      await api.request('PUT', '/api/images/replace/me.jpg', { body: MOUNTAINS });
      await api.storage.store.putDerivative(
        'replace/me.jpg/w10-hauto-q80-cover.webp',
        Buffer.from('stale'),
        'image/webp',
        'x',
      );
      await api.storage.store.putDerivative(
        'replace/other.jpg/w10-hauto-q80-cover.webp',
        Buffer.from('kept'),
        'image/webp',
        'x',
      );
      api.invalidated.length = 0;

      const put = await api.request('PUT', '/api/images/replace/me.jpg', { body: ALPHA });
      expect(put.status).to.equal(200);
      expect(put.json()).to.include({ version: 2, contentType: 'image/png', width: 192, height: 192 });
      expect(await api.derivativeKeys()).to.not.include('replace/me.jpg/w10-hauto-q80-cover.webp');
      expect(await api.derivativeKeys()).to.include('replace/other.jpg/w10-hauto-q80-cover.webp');
      expect(api.invalidated).to.deep.equal(['replace/me.jpg']);
      expect((await served('replace/me.jpg'))?.equals(ALPHA)).to.equal(true);

      const body = (await api.request('GET', '/api/images/replace/me.jpg')).json();
      expect(body.versions.map((v: { version: number }) => v.version)).to.deep.equal([1, 2]);
      const v1 = await api.request('GET', body.versions[0].originalUrl, { token: false });
      expect(v1.headers['content-type']).to.equal('image/jpeg');
      expect(v1.body.equals(MOUNTAINS)).to.equal(true);
      const v2 = await api.request('GET', body.originalUrl, { token: false });
      expect(v2.body.equals(ALPHA)).to.equal(true);
    });

    it('deletes: 204, then the object, every version, derivatives and items are gone, and a second DELETE is 404', async () => {
      await api.request('PUT', '/api/images/doomed/a.jpg', { body: MOUNTAINS });
      await api.request('PUT', '/api/images/doomed/a.jpg', { body: FOREST });
      await api.request('PUT', '/api/images/doomed/a.jpg/inner.jpg', { body: FOREST });
      await api.storage.store.putDerivative(
        'doomed/a.jpg/w10-hauto-q80-cover.webp',
        Buffer.from('x'),
        'image/webp',
        'x',
      );
      api.invalidated.length = 0;

      const response = await api.request('DELETE', '/api/images/doomed/a.jpg');
      expect(response.status).to.equal(204);
      expect(response.body.length).to.equal(0);
      const originals = await api.originalKeys();
      expect(
        originals.filter((key) => key === 'doomed/a.jpg' || /^_versions\/doomed\/a\.jpg\/[a-z0-9]+$/.test(key)),
      ).to.deep.equal([]);
      // A key nested under the deleted one is another image and stays.
      expect(originals).to.include('doomed/a.jpg/inner.jpg');
      expect(await api.dynamo.metadata.versions('doomed/a.jpg')).to.deep.equal([]);
      expect(await api.dynamo.metadata.versions('doomed/a.jpg/inner.jpg')).to.have.length(1);
      expect((await api.derivativeKeys()).filter((key) => key.startsWith('doomed/a.jpg/w'))).to.deep.equal([]);
      expect(api.invalidated).to.deep.equal(['doomed/a.jpg']);

      expectError(await api.request('GET', '/api/images/doomed/a.jpg'), 404, 'not_found');
      expectError(await api.request('DELETE', '/api/images/doomed/a.jpg'), 404, 'not_found');
    });

    it('purges only the derivatives with DELETE /api/derivatives/<key>', async () => {
      await api.request('PUT', '/api/images/purge/me.jpg', { body: MOUNTAINS });
      await api.storage.store.putDerivative(
        'purge/me.jpg/w10-hauto-q80-cover.webp',
        Buffer.from('x'),
        'image/webp',
        'x',
      );
      await api.storage.store.putDerivative(
        'purge/me.jpg/w20-hauto-q80-cover.webp',
        Buffer.from('x'),
        'image/webp',
        'x',
      );
      // The derivative of another key nested under this one is not this key's.
      const nested = 'purge/me.jpg/inner.jpg/w10-hauto-q80-cover.webp';
      await api.storage.store.putDerivative(nested, Buffer.from('x'), 'image/webp', 'x');
      const response = await api.request('DELETE', '/api/derivatives/purge/me.jpg');
      expect(response.status).to.equal(200);
      expect(response.json()).to.deep.equal({ key: 'purge/me.jpg', deleted: 2 });
      expect(await api.derivativeKeys()).to.include(nested);
      expect((await served('purge/me.jpg'))?.equals(MOUNTAINS)).to.equal(true);
    });

    it('gives concurrent uploads of one key distinct versions, and <key> ends up holding the latest', async () => {
      const [a, b] = await Promise.all([
        api.request('PUT', '/api/images/race/x.jpg', { body: MOUNTAINS }),
        api.request('PUT', '/api/images/race/x.jpg', { body: ALPHA }),
      ]);
      expect([a.json().version, b.json().version].sort()).to.deep.equal([1, 2]);
      const items = await api.dynamo.metadata.versions('race/x.jpg');
      const head = await api.storage.store.headOriginal('race/x.jpg');
      expect(head?.metadata[OBJECT_META]).to.equal(items[1]?.objectKey);
    });
  });

  describe('names a client chose', () => {
    it('round-trips X-Meta-* names that are Object.prototype members (constructor, hasOwnProperty, toString)', async () => {
      const headers = {
        'X-Meta-Constructor': 'x',
        'x-meta-hasownproperty': 'y',
        'X-Meta-toString': 'z',
        'x-meta-valueof': 'v',
        'x-meta-isprototypeof': 'w',
      };
      const expected = { constructor: 'x', hasownproperty: 'y', tostring: 'z', valueof: 'v', isprototypeof: 'w' };
      const put = await api.request('PUT', '/api/images/names/meta.jpg', { body: MOUNTAINS, headers });
      expect(put.status, put.body.toString()).to.equal(201);
      expect(put.json().meta).to.deep.equal(expected);
      const get = await api.request('GET', '/api/images/names/meta.jpg');
      expect(get.json().meta).to.deep.equal(expected);
      const listing = await api.request('GET', '/api/images?prefix=names/');
      const lines = listing.body
        .toString()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.find((line) => line.key === 'names/meta.jpg')?.meta).to.deep.equal(expected);
      const posted = await api.request('POST', '/api/images?__proto__=1&constructor=2', {
        body: MOUNTAINS,
        headers: { 'x-meta-constructor': 'c' },
      });
      expect(posted.status).to.equal(201);
      expect(posted.json().meta).to.deep.equal({ constructor: 'c' });
      expect(({} as Record<string, unknown>).constructor).to.equal(Object);
    });

    it('refuses X-Meta-__proto__ (not a valid name) with 400, and ignores a __proto__ header or query name', async () => {
      expectError(
        await api.request('PUT', '/api/images/names/proto.jpg', {
          body: MOUNTAINS,
          headers: { 'x-meta-__proto__': 'x' },
        }),
        400,
        'invalid_param',
      );
      const put = await api.request('PUT', '/api/images/names/proto.jpg?__proto__=x&hasOwnProperty=1', {
        body: MOUNTAINS,
        headers: { __proto__: 'x', constructor: 'y', hasOwnProperty: 'z' },
      });
      expect(put.status, put.body.toString()).to.equal(201);
      expect(put.json().meta).to.deep.equal({});
      const listing = await api.request('GET', '/api/images?limit=5&__proto__=1&constructor=2&hasOwnProperty=3');
      expect(listing.status).to.equal(200);
      expect(({} as Record<string, unknown>).x).to.equal(undefined);
    });
  });

  describe('concurrent replaces', () => {
    it('gives 10 PUTs at once to one key 10 distinct versions, or 503 busy with Retry-After, never a 502', async function () {
      this.timeout(120_000);
      const bodies = [MOUNTAINS, FOREST, ALPHA];
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          api.request('PUT', '/api/images/race/ten.jpg', { body: bodies[i % bodies.length] as Buffer }),
        ),
      );
      const statuses = responses.map((response) => response.status);
      console.log(`      figure: 10 concurrent PUTs: statuses ${statuses.join(' ')}`);
      for (const response of responses) {
        expect([200, 201, 503], response.body.toString()).to.include(response.status);
        if (response.status === 503) {
          expect(response.json()).to.include({ code: 'busy' });
          expect(Number(response.headers['retry-after'])).to.be.at.least(1);
        }
      }
      const stored = responses.filter((response) => response.status < 300).map((response) => response.json().version);
      expect(new Set(stored).size).to.equal(stored.length);
      expect(stored.filter((version) => version === 1)).to.have.length(1);
      const items = await api.dynamo.metadata.versions('race/ten.jpg');
      expect(items.map((item) => item.version)).to.deep.equal([...stored].sort((a, b) => a - b));
      // <key> holds the latest, and no orphan object is left beside the versions.
      const head = await api.storage.store.headOriginal('race/ten.jpg');
      expect(head?.metadata[OBJECT_META]).to.equal(items.at(-1)?.objectKey);
      const objects = (await api.originalKeys()).filter((key) => key.startsWith('_versions/race/ten.jpg/'));
      expect(objects.sort()).to.deep.equal(items.map((item) => item.objectKey).sort());
    });
  });

  describe('Content-Type of an image body', () => {
    const PNG = fixture('photos/dogs-portrait.png');
    for (const type of [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/json',
      'application/x-www-form-urlencoded',
    ]) {
      it(`refuses ${type} with 415 unsupported_format before reading the body, storing nothing`, async () => {
        const before = { originals: await api.originalKeys(), items: (await api.items()).length };
        for (const [method, path] of [
          ['POST', '/api/images'],
          ['PUT', '/api/images/types/text.png'],
        ] as const) {
          const response = await api.request(method, path, { body: PNG, headers: { 'content-type': type } });
          expectError(response, 415, 'unsupported_format');
          expect(response.json().message).to.include('application/octet-stream or image/*');
        }
        expect(await api.originalKeys()).to.deep.equal(before.originals);
        expect((await api.items()).length).to.equal(before.items);
      });
    }

    it('takes none, application/octet-stream and image/*, and stores the bytes intact', async () => {
      for (const [index, type] of [undefined, 'application/octet-stream', 'image/png', 'IMAGE/JPEG'].entries()) {
        const key = `types/ok-${index}.png`;
        const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
        const response = await api.request('PUT', `/api/images/${key}`, { body: PNG, headers });
        expect(response.status, `${type}: ${response.body.toString()}`).to.equal(201);
        expect((await served(key))?.equals(PNG), String(type)).to.equal(true);
      }
    });
  });

  describe('focal points', () => {
    const patch = (key: string, body: unknown) =>
      api.request('PATCH', `/api/images/${key}`, {
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const stored = async (key: string) => (await api.storage.store.headOriginal(key))?.metadata['focal-point'];

    it('takes X-Focal-Point at upload: in the answer, the item, GET and the original object metadata', async () => {
      const put = await api.request('PUT', '/api/images/focal/up.jpg', {
        body: MOUNTAINS,
        headers: { 'x-focal-point': '0.3,0.625' },
      });
      expect(put.status, put.body.toString()).to.equal(201);
      expect(put.json().focalPoint).to.deep.equal({ x: 0.3, y: 0.625 });
      expect((await api.request('GET', '/api/images/focal/up.jpg')).json().focalPoint).to.deep.equal({
        x: 0.3,
        y: 0.625,
      });
      expect(await stored('focal/up.jpg')).to.equal('0.3,0.625');
      const [item] = await api.dynamo.metadata.versions('focal/up.jpg');
      expect(await stored(item?.objectKey ?? '')).to.equal('0.3,0.625');
      // Without the header there is none.
      const plain = (await api.request('PUT', '/api/images/focal/plain.jpg', { body: MOUNTAINS })).json();
      expect(plain.focalPoint).to.equal(null);
      expect(await stored('focal/plain.jpg')).to.equal(undefined);
    });

    for (const bad of ['1.5,0.5', '0.1234,0.5', 'a,b', '0.5', '0.5,0.5,0.5', '-0,0.5', '', '.5,.5']) {
      it(`refuses X-Focal-Point '${bad}' with 400 invalid_param and stores nothing`, async () => {
        const before = { originals: await api.originalKeys(), items: (await api.items()).length };
        const response = await api.request('POST', '/api/images', {
          body: MOUNTAINS,
          headers: { 'x-focal-point': bad },
        });
        expectError(response, 400, 'invalid_param');
        expect(response.json().message).to.include('X-Focal-Point');
        expect(await api.originalKeys()).to.deep.equal(before.originals);
        expect((await api.items()).length).to.equal(before.items);
      });
    }

    it('PATCH sets and clears the point: no new version, same bytes, derivatives purged and invalidated', async () => {
      const key = 'focal/patch.jpg';
      await api.request('PUT', `/api/images/${key}`, { body: MOUNTAINS });
      await api.storage.store.putDerivative(`${key}/w10-hauto-q80-cover.webp`, Buffer.from('x'), 'image/webp', 'x');
      api.invalidated.length = 0;

      const set = await patch(key, { focalPoint: { x: 0.25, y: 0.75 } });
      expect(set.status, set.body.toString()).to.equal(200);
      expect(set.json()).to.include({ key, version: 1 });
      expect(set.json().focalPoint).to.deep.equal({ x: 0.25, y: 0.75 });
      expect(await stored(key)).to.equal('0.25,0.75');
      expect((await api.derivativeKeys()).filter((k) => k.startsWith(`${key}/`))).to.deep.equal([]);
      expect(api.invalidated).to.deep.equal([key]);
      const got = (await api.request('GET', `/api/images/${key}`)).json();
      expect(got.focalPoint).to.deep.equal({ x: 0.25, y: 0.75 });
      expect(got.versions).to.have.length(1);
      expect((await served(key))?.equals(MOUNTAINS)).to.equal(true);
      const original = await api.request('GET', got.originalUrl, { token: false });
      expect(original.body.equals(MOUNTAINS)).to.equal(true);

      const cleared = await patch(key, { focalPoint: null });
      expect(cleared.status).to.equal(200);
      expect(cleared.json().focalPoint).to.equal(null);
      expect(await stored(key)).to.equal(undefined);
      expect((await api.request('GET', `/api/images/${key}`)).json().focalPoint).to.equal(null);
      expect((await served(key))?.equals(MOUNTAINS)).to.equal(true);
    });

    it('PATCH puts floating-point noise on the 3-decimal grid: reported, stored and read back as one spelling', async () => {
      const key = 'focal/noise.jpg';
      await api.request('PUT', `/api/images/${key}`, { body: MOUNTAINS });
      const tiny = await patch(key, '{"focalPoint": {"x": 1e-13, "y": 0.9}}');
      expect(tiny.status, tiny.body.toString()).to.equal(200);
      expect(tiny.json().focalPoint).to.deep.equal({ x: 0, y: 0.9 });
      expect(await stored(key)).to.equal('0,0.9');
      const sum = await patch(key, '{"focalPoint": {"x": 0.30000000000000004, "y": 0.6}}');
      expect(sum.json().focalPoint).to.deep.equal({ x: 0.3, y: 0.6 });
      expect(await stored(key)).to.equal('0.3,0.6');
      expect((await api.request('GET', `/api/images/${key}`)).json().focalPoint).to.deep.equal({ x: 0.3, y: 0.6 });
    });

    const badBodies: [string, unknown][] = [
      ['x over 1', { focalPoint: { x: 2, y: 0 } }],
      ['4 decimals', { focalPoint: { x: 0.1234, y: 0 } }],
      ['a missing y', { focalPoint: { x: 0.1 } }],
      ['strings', { focalPoint: { x: '0.1', y: '0.2' } }],
      ['an extra field', { focalPoint: null, version: 3 }],
      ['no focalPoint', {}],
      ['a __proto__ name', '{"__proto__": {"focalPoint": null}}'],
      ['not JSON', 'focal!'],
      ['an array', [1, 2]],
    ];
    for (const [name, body] of badBodies) {
      it(`refuses a PATCH with ${name} with 400 invalid_param, changing nothing`, async () => {
        await api.request('PUT', '/api/images/focal/bad.jpg', {
          body: MOUNTAINS,
          headers: { 'x-focal-point': '0.5,0.5' },
        });
        expectError(await patch('focal/bad.jpg', body), 400, 'invalid_param');
        expect(await stored('focal/bad.jpg')).to.equal('0.5,0.5');
        expect(({} as Record<string, unknown>).focalPoint).to.equal(undefined);
      });
    }

    it('answers a PATCH of a missing image with 404', async () => {
      expectError(await patch('focal/none.jpg', { focalPoint: null }), 404, 'not_found');
    });
  });

  describe('refused uploads store nothing', () => {
    const cases: [string, string, () => RequestInitLike, number, string][] = [
      ['an SVG', '/api/images', () => ({ body: fixture('edge/image.svg') }), 415, 'unsupported_format'],
      [
        'text',
        '/api/images',
        () => ({ body: 'hello, world', headers: { 'content-type': 'image/jpeg' } }),
        415,
        'unsupported_format',
      ],
      [
        'not an image named .jpg',
        '/api/images',
        () => ({ body: fixture('edge/not-an-image.jpg') }),
        415,
        'unsupported_format',
      ],
      ['a truncated JPEG', '/api/images', () => ({ body: fixture('edge/truncated.jpg') }), 422, 'corrupt_image'],
      ['zero bytes', '/api/images', () => ({ body: fixture('edge/zero.jpg') }), 422, 'corrupt_image'],
      [
        'a decompression bomb (30000×30000)',
        '/api/images',
        () => ({ body: fixture('edge/bomb.png') }),
        413,
        'too_large',
      ],
      ['a reserved key', '/api/images/_private/x.jpg', () => ({ body: MOUNTAINS }), 400, 'invalid_key'],
      ['an empty segment', '/api/images/a//b.jpg', () => ({ body: MOUNTAINS }), 400, 'invalid_key'],
      ['a reserved prefix', '/api/images?prefix=_x/', () => ({ body: MOUNTAINS }), 400, 'invalid_key'],
      [
        'a non-ASCII X-Meta value',
        '/api/images',
        () => ({ body: MOUNTAINS, headers: { 'x-meta-title': 'caf\u00e9' } }),
        400,
        'invalid_param',
      ],
      [
        'an X-Meta value over 1 KB',
        '/api/images',
        () => ({ body: MOUNTAINS, headers: { 'x-meta-title': 'a'.repeat(1025) } }),
        400,
        'invalid_param',
      ],
      ['33 X-Meta headers', '/api/images', () => ({ body: MOUNTAINS, headers: manyMeta(33) }), 400, 'invalid_param'],
    ];
    for (const [name, path, init, status, code] of cases) {
      it(`answers ${status} ${code} for ${name}`, async () => {
        const before = { originals: await api.originalKeys(), items: (await api.items()).length };
        const method = path === '/api/images' || path.startsWith('/api/images?') ? 'POST' : 'PUT';
        expectError(await api.request(method, path, init()), status, code);
        expect(await api.originalKeys()).to.deep.equal(before.originals);
        expect((await api.items()).length).to.equal(before.items);
      });
    }
  });
});

describe('API: limits and failures', () => {
  it('answers 413 too_large over maxOriginalBytes, and stores nothing', async () => {
    const api = await startApi({ config: { limits: { maxOriginalBytes: 100_000 } } });
    try {
      const response = await api.request('POST', '/api/images', { body: MOUNTAINS });
      expectError(response, 413, 'too_large');
      expect(response.json().message).to.equal('The image is larger than 100.0 kB');
      expect(await api.originalKeys()).to.deep.equal([]);
      expect(await api.items()).to.deep.equal([]);
    } finally {
      await api.close();
    }
  });

  describe('rollback', () => {
    const failing = { putVersion: false, copy: false };
    let api: ApiHarness;
    before(async () => {
      api = await startApi({
        wrap: (deps) => ({
          ...deps,
          logger: createLogger('silent'),
          metadata: {
            ...deps.metadata,
            putVersion: async (item) => {
              if (failing.putVersion)
                throw new HttpError('storage_error', 'Metadata storage is unavailable; try again');
              return deps.metadata.putVersion(item);
            },
          },
          store: {
            ...deps.store,
            copyOriginal: async (from, to) => {
              if (failing.copy) throw new HttpError('storage_error', 'Storage is unavailable; try again');
              return deps.store.copyOriginal(from, to);
            },
          },
        }),
      });
    });
    after(() => api.close());
    afterEach(() => {
      failing.putVersion = false;
      failing.copy = false;
    });

    it('deletes the stored object when the metadata write fails: 502 and no trace (new key)', async () => {
      failing.putVersion = true;
      expectError(await api.request('PUT', '/api/images/rb/new.jpg', { body: MOUNTAINS }), 502, 'storage_error');
      expect((await api.originalKeys()).filter((key) => key.includes('rb/new.jpg'))).to.deep.equal([]);
      expect(await api.dynamo.metadata.versions('rb/new.jpg')).to.deep.equal([]);
    });

    it('keeps version 1 served and alone when a replace fails at the metadata write or at the promotion', async () => {
      await api.request('PUT', '/api/images/rb/old.jpg', { body: MOUNTAINS });
      const before = await api.originalKeys();
      for (const step of ['putVersion', 'copy'] as const) {
        failing[step] = true;
        expectError(await api.request('PUT', '/api/images/rb/old.jpg', { body: ALPHA }), 502, 'storage_error');
        failing[step] = false;
        expect(await api.originalKeys()).to.deep.equal(before);
        expect((await api.dynamo.metadata.versions('rb/old.jpg')).map((item) => item.version)).to.deep.equal([1]);
        const stored = await api.storage.store.getOriginal('rb/old.jpg');
        expect(stored && decryptBuffer(stored.body, stored.metadata, api.storage.masterKey).equals(MOUNTAINS)).to.equal(
          true,
        );
      }
    });

    it('repairs a version committed but never promoted (a crash between the two) on the next promotion', async () => {
      await api.request('PUT', '/api/images/rb/crash.jpg', { body: MOUNTAINS });
      // What a crash after step 3 leaves: object and item of version 2, <key> still at version 1.
      const objectKey = versionObjectKey('rb/crash.jpg', 'crashed00000');
      const { body, metadata } = encryptBuffer(ALPHA, api.storage.masterKey);
      await api.storage.store.putOriginal(objectKey, body, { ...metadata, [OBJECT_META]: objectKey }, body.length);
      const [v1] = await api.dynamo.metadata.versions('rb/crash.jpg');
      await api.dynamo.metadata.putVersion({
        ...(v1 as NonNullable<typeof v1>),
        version: 2,
        objectKey,
        bytes: ALPHA.length,
      });

      await promoteLatest({ ...api.deps, logger: createLogger('silent') }, 'rb/crash.jpg');
      const stored = await api.storage.store.getOriginal('rb/crash.jpg');
      expect(stored && decryptBuffer(stored.body, stored.metadata, api.storage.masterKey).equals(ALPHA)).to.equal(true);
    });
  });
});

/**
 * Streams `size` bytes (declared up front) to `path` without a token, 256 KB
 * at a time with backpressure, and stops sending as soon as an answer comes.
 */
function uploadUntilAnswered(
  base: string,
  path: string,
  size: number,
): Promise<{ status: number; connection: string | undefined; sent: number; clientPort: number }> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    let clientPort = 0;
    const req = httpRequest(`${base}${path}`, {
      method: 'POST',
      agent: false,
      headers: { 'content-length': String(size), 'content-type': 'image/jpeg' },
    });
    req.on('socket', (socket) => {
      socket.on('connect', () => {
        clientPort = socket.localPort ?? 0;
      });
    });
    req.on('response', (res) => {
      answered = true;
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, sent, clientPort }),
      );
    });
    // Writing into a connection the server has closed fails once it has answered: expected.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const pump = () => {
      while (!answered && sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (sent >= size) req.end();
    };
    pump();
  });
}

interface RequestInitLike {
  body: Buffer | string;
  headers?: Record<string, string>;
}

function manyMeta(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-meta-n${i}`, 'v']));
}
