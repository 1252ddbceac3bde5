import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import sharp from 'sharp';
import { createApiHandler } from '../../src/api/app.js';
import { createApiRequestListener } from '../../src/local/node-adapter.js';
import { fixture } from '../helpers/images.js';
import { type ApiHarness, type ApiResponse, startApi } from './harness.js';

const MB = 1024 * 1024;

/** A PNG of random pixels (incompressible) of about `bytes`, stored uncompressed so it is made fast. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

function json(response: ApiResponse) {
  return response.json();
}

/** PUTs each part to its presigned URL, as a browser or the CLI does; returns the parts for `complete`. */
async function sendParts(
  created: { partSize: number; parts: { partNumber: number; url: string }[] },
  body: Buffer,
): Promise<{ partNumber: number; etag: string }[]> {
  return Promise.all(
    created.parts.map(async ({ partNumber, url }) => {
      const slice = body.subarray((partNumber - 1) * created.partSize, partNumber * created.partSize);
      const response = await fetch(url, { method: 'PUT', body: new Uint8Array(slice) });
      expect(response.status, await response.clone().text()).to.equal(200);
      return { partNumber, etag: response.headers.get('etag') ?? '' };
    }),
  );
}

describe('API: staged multipart uploads', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  /** The staging bucket's keys but for the claims of finished uploads (a word each, expired by the lifecycle rule). */
  const stagedKeys = async () => (await api.stagingKeys()).filter((key) => !key.startsWith('claims/'));

  const post = (path: string, body: unknown) =>
    api.request('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  async function stage(key: string | undefined, body: Buffer, extra: Record<string, unknown> = {}) {
    const created = await post('/api/uploads', { ...(key ? { key } : {}), bytes: body.length, ...extra });
    expect(created.status, created.body.toString()).to.equal(201);
    const answer = json(created);
    const parts = await sendParts(answer, body);
    return { answer, parts };
  }

  it('ingests a ~13 MB original: presigned parts, complete → 201 as PUT, exact bytes back, staging emptied', async function () {
    this.timeout(120_000);
    const png = await noisePng(2080, 2080);
    expect(png.length).to.be.above(12 * MB);
    const { answer, parts } = await stage('staged/13mb.png', png, {
      meta: { caption: 'noise', constructor: 'c' },
      focalPoint: { x: 0.2, y: 0.8 },
    });
    expect(answer).to.include({ key: 'staged/13mb.png', partSize: 8 * MB });
    expect(answer.parts.map((p: { partNumber: number }) => p.partNumber)).to.deep.equal([1, 2]);
    expect(Date.parse(answer.expiresAt)).to.be.above(Date.now());

    const done = await post(`/api/uploads/${answer.uploadId}/complete`, { parts });
    expect(done.status, done.body.toString()).to.equal(201);
    const body = json(done);
    expect(body).to.include({
      key: 'staged/13mb.png',
      version: 1,
      contentType: 'image/png',
      width: 2080,
      height: 2080,
      bytes: png.length,
    });
    expect(body.sha256).to.equal(createHash('sha256').update(png).digest('hex'));
    expect(body.meta).to.deep.equal({ caption: 'noise', constructor: 'c' });
    expect(body.focalPoint).to.deep.equal({ x: 0.2, y: 0.8 });
    expect(Buffer.from(body.thumbhash, 'base64').length).to.be.within(5, 40);
    expect((await api.storage.store.headOriginal('staged/13mb.png'))?.metadata['focal-point']).to.equal('0.2,0.8');

    const url = json(await api.request('GET', '/api/images/staged/13mb.png')).originalUrl;
    const original = await api.request('GET', url, { token: false });
    expect(createHash('sha256').update(original.body).digest('hex')).to.equal(body.sha256);
    expect(await stagedKeys()).to.deep.equal([]);
  });

  it('ingests a ~45 MB original with the API process growing less than 64 MB, and replaces with 200', async function () {
    this.timeout(180_000);
    await api.request('PUT', '/api/images/staged/45mb.png', { body: fixture('edge/alpha.png') });
    const png = await noisePng(3900, 3850);
    expect(png.length).to.be.above(45_000_000);
    const sha256 = createHash('sha256').update(png).digest('hex');
    const { answer, parts } = await stage('staged/45mb.png', png);
    expect(answer.parts).to.have.length(6);

    collectGarbage();
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    const started = performance.now();
    let done: ApiResponse;
    try {
      done = await post(`/api/uploads/${answer.uploadId}/complete`, { parts });
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    expect(done.status, done.body.toString()).to.equal(200);
    expect(json(done)).to.include({ version: 2, sha256, bytes: png.length });
    console.log(
      `      figure: 45 MB staged complete: ${seconds.toFixed(1)} s (${(png.length / MB / seconds).toFixed(1)} MB/s ingest), RSS growth ${((peak - before) / MB).toFixed(1)} MB (test process, s3rver and dynalite included)`,
    );
    expect(peak - before).to.be.lessThan(64 * MB);
    const url = json(await api.request('GET', '/api/images/staged/45mb.png')).originalUrl;
    const original = await api.request('GET', url, { token: false });
    expect(createHash('sha256').update(original.body).digest('hex')).to.equal(sha256);
    expect(await stagedKeys()).to.deep.equal([]);
  });

  it('answers 415 for a bad image on complete: nothing stored, the staged object gone', async () => {
    const before = { originals: await api.originalKeys(), items: (await api.items()).length };
    const { answer, parts } = await stage('staged/bad.jpg', Buffer.from('this is not an image at all'.repeat(1000)));
    const done = await post(`/api/uploads/${answer.uploadId}/complete`, { parts });
    expect(done.status).to.equal(415);
    expect(json(done)).to.include({ code: 'unsupported_format' });
    expect(await api.originalKeys()).to.deep.equal(before.originals);
    expect((await api.items()).length).to.equal(before.items);
    expect(await stagedKeys()).to.deep.equal([]);
  });

  it('aborts with DELETE: 204, nothing kept', async () => {
    const { answer } = await stage('staged/aborted.jpg', fixture('photos/fig.jpg'));
    const response = await api.request('DELETE', `/api/uploads/${answer.uploadId}`);
    expect(response.status, response.body.toString()).to.equal(204);
    expect(await stagedKeys()).to.deep.equal([]);
    expect(await api.dynamo.metadata.versions('staged/aborted.jpg')).to.deep.equal([]);
  });

  it('names a new key from contentType when none is given', async () => {
    const jpeg = fixture('photos/fig.jpg');
    const { answer, parts } = await stage(undefined, jpeg, { contentType: 'image/jpeg' });
    expect(answer.key).to.match(/^[a-z0-9]{12}\.jpg$/);
    const done = await post(`/api/uploads/${answer.uploadId}/complete`, { parts });
    expect(done.status).to.equal(201);
    expect(json(done).key).to.equal(answer.key);
  });

  const badCreates: [string, unknown, number, string][] = [
    ['no bytes', { key: 'a.jpg' }, 400, 'invalid_param'],
    ['bytes over the limit', { key: 'a.jpg', bytes: 51 * MB }, 413, 'too_large'],
    ['a reserved key', { key: '_x/a.jpg', bytes: 10 }, 400, 'invalid_key'],
    ['no key and no contentType', { bytes: 10 }, 400, 'invalid_param'],
    ['an unknown field', { key: 'a.jpg', bytes: 10, colour: 'red' }, 400, 'invalid_param'],
    ['a bad focal point', { key: 'a.jpg', bytes: 10, focalPoint: { x: 3, y: 0 } }, 400, 'invalid_param'],
    ['bad meta', { key: 'a.jpg', bytes: 10, meta: { 'Bad Name': 'x' } }, 400, 'invalid_param'],
    ['a __proto__ field', JSON.parse('{"__proto__": {"bytes": 10}, "key": "a.jpg"}'), 400, 'invalid_param'],
  ];
  for (const [name, body, status, code] of badCreates) {
    it(`refuses a POST /api/uploads with ${name}: ${status} ${code}`, async () => {
      const response = await post('/api/uploads', body);
      expect(response.status, response.body.toString()).to.equal(status);
      expect(json(response)).to.include({ code });
    });
  }

  it('refuses a made-up or tampered upload id with 403, and bad parts with 400', async () => {
    const { answer } = await stage('staged/tamper.jpg', fixture('photos/fig.jpg'));
    const id: string = answer.uploadId;
    const tampered = `${id.slice(0, 30)}${id[30] === 'A' ? 'B' : 'A'}${id.slice(31)}`;
    for (const bad of ['not-an-id', tampered]) {
      const response = await post(`/api/uploads/${bad}/complete`, { parts: [{ partNumber: 1, etag: 'x' }] });
      expect(response.status).to.equal(403);
      expect((await api.request('DELETE', `/api/uploads/${bad}`)).status).to.equal(403);
    }
    for (const parts of [[], [{ partNumber: 2, etag: 'x' }], 'x', [{ partNumber: 1 }]]) {
      expect((await post(`/api/uploads/${id}/complete`, { parts })).status).to.equal(400);
    }
    expect((await api.request('DELETE', `/api/uploads/${id}`)).status).to.equal(204);
  });

  it('six concurrent completes of one upload: one 201, five 409 conflict, one version stored', async () => {
    const { answer, parts } = await stage('staged/six.jpg', fixture('photos/fig.jpg'));
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(`/api/uploads/${answer.uploadId}/complete`, { parts })),
    );
    const statuses = answers.map((response) => response.status).sort();
    expect(statuses, answers.map((response) => response.body.toString()).join('\n')).to.deep.equal([
      201, 409, 409, 409, 409, 409,
    ]);
    for (const response of answers.filter((r) => r.status === 409))
      expect(json(response)).to.include({ code: 'conflict' });
    expect(await api.dynamo.metadata.versions('staged/six.jpg')).to.have.length(1);
    // A late one gets the same answer, not a second version.
    expect((await post(`/api/uploads/${answer.uploadId}/complete`, { parts })).status).to.equal(409);
    expect(await api.dynamo.metadata.versions('staged/six.jpg')).to.have.length(1);
    expect(await stagedKeys()).to.deep.equal([]);
  });

  it('concurrent completes through two API handlers (two containers, no shared lock) store one version', async () => {
    const second = createServer(createApiRequestListener(createApiHandler(api.deps)));
    await new Promise<void>((resolve) => second.listen(0, '127.0.0.1', resolve));
    const secondUrl = `http://127.0.0.1:${(second.address() as AddressInfo).port}`;
    try {
      const { answer, parts } = await stage('staged/two-containers.jpg', fixture('photos/fig.jpg'));
      const body = JSON.stringify({ parts });
      const viaSecond = () =>
        fetch(`${secondUrl}/api/uploads/${answer.uploadId}/complete`, {
          method: 'POST',
          headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
          body,
        }).then((response) => response.status);
      const viaFirst = () => post(`/api/uploads/${answer.uploadId}/complete`, { parts }).then((r) => r.status);
      const statuses = (await Promise.all([viaFirst(), viaSecond(), viaFirst(), viaSecond()])).sort();
      expect(statuses).to.deep.equal([201, 409, 409, 409]);
      expect(await api.dynamo.metadata.versions('staged/two-containers.jpg')).to.have.length(1);
    } finally {
      second.closeAllConnections();
      await new Promise((resolve) => second.close(resolve));
    }
  });

  it('complete racing DELETE: one wins, the other is 409 conflict, never a crash or a version after an abort', async () => {
    for (let round = 0; round < 4; round++) {
      const key = `staged/race-${round}.jpg`;
      const { answer, parts } = await stage(key, fixture('photos/fig.jpg'));
      const [done, aborted] = await Promise.all([
        post(`/api/uploads/${answer.uploadId}/complete`, { parts }),
        api.request('DELETE', `/api/uploads/${answer.uploadId}`),
      ]);
      const pair = [done.status, aborted.status];
      expect([
        [201, 409],
        [409, 204],
      ]).to.deep.include(pair);
      const versions = await api.dynamo.metadata.versions(key);
      expect(versions).to.have.length(done.status === 201 ? 1 : 0);
      // Repeating the abort answers as the first did; a complete after it is a conflict.
      if (aborted.status === 204) {
        expect((await api.request('DELETE', `/api/uploads/${answer.uploadId}`)).status).to.equal(204);
      }
    }
    expect(await stagedKeys()).to.deep.equal([]);
  });

  it('complete listing a part never uploaded, or a wrong ETag, is 400 and leaves the upload open for the right list', async function () {
    this.timeout(60_000);
    const body = await noisePng(1800, 1800);
    expect(body.length).to.be.above(8 * MB);
    const created = json(await post('/api/uploads', { key: 'staged/missing-part.png', bytes: body.length }));
    expect(created.parts).to.have.length(2);
    const [first] = await sendParts({ ...created, parts: created.parts.slice(0, 1) }, body);
    const missing = await post(`/api/uploads/${created.uploadId}/complete`, {
      parts: [first, { partNumber: 2, etag: '"0123456789abcdef0123456789abcdef"' }],
    });
    expect(missing.status, missing.body.toString()).to.equal(400);
    expect(json(missing)).to.include({ code: 'invalid_param' });
    const [second] = await sendParts({ ...created, parts: created.parts.slice(1) }, body);
    const wrongEtag = await post(`/api/uploads/${created.uploadId}/complete`, {
      parts: [{ partNumber: 1, etag: '"ffffffffffffffffffffffffffffffff"' }, second],
    });
    expect(wrongEtag.status).to.equal(400);
    expect(await api.dynamo.metadata.versions('staged/missing-part.png')).to.deep.equal([]);
    const done = await post(`/api/uploads/${created.uploadId}/complete`, { parts: [first, second] });
    expect(done.status, done.body.toString()).to.equal(201);
    expect(json(done)).to.include({ bytes: body.length });
  });

  it("every part URL signs its part's Content-Length, so S3 refuses a part of another size", async () => {
    const bytes = 8 * MB + 123;
    const created = json(await post('/api/uploads', { key: 'staged/signed-size.png', bytes }));
    const signed = created.parts.map((part: { url: string }) =>
      new URL(part.url).searchParams.get('X-Amz-SignedHeaders'),
    );
    expect(signed).to.deep.equal(['content-length;host', 'content-length;host']);
    expect((await api.request('DELETE', `/api/uploads/${created.uploadId}`)).status).to.equal(204);
  });

  it('parts that do not add up to the declared bytes are 400 on complete, nothing stored', async () => {
    const jpeg = fixture('photos/fig.jpg');
    const created = json(await post('/api/uploads', { key: 'staged/short.jpg', bytes: jpeg.length + 1 }));
    // s3rver checks no signature, so the part of the wrong size lands; S3 (and the local part door) would refuse it.
    const parts = await sendParts(created, jpeg);
    const done = await post(`/api/uploads/${created.uploadId}/complete`, { parts });
    expect(done.status, done.body.toString()).to.equal(400);
    expect(json(done).message).to.include('declared');
    expect(await api.dynamo.metadata.versions('staged/short.jpg')).to.deep.equal([]);
    expect(await stagedKeys()).to.deep.equal([]);
  });

  it('expired part URLs and upload ids are refused', async function () {
    this.timeout(60_000);
    const short = await startApi({ stagedUploadTtlSeconds: 1 });
    try {
      const created = json(
        await short.request('POST', '/api/uploads', { body: JSON.stringify({ key: 'x/late.jpg', bytes: 100 }) }),
      );
      await sleep(2100);
      const put = await fetch(created.parts[0].url, { method: 'PUT', body: new Uint8Array(100) });
      expect(put.status).to.equal(403);
      const done = await short.request('POST', `/api/uploads/${created.uploadId}/complete`, {
        body: JSON.stringify({ parts: [{ partNumber: 1, etag: 'x' }] }),
      });
      expect(done.status).to.equal(403);
      expect(json(done)).to.include({ code: 'expired' });
    } finally {
      await short.close();
    }
  });
});

function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}
