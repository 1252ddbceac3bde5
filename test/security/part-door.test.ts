/**
 * The local CDN's part door (`/_local/s3`) and the staged-upload API held to
 * what S3 does deployed, end to end through a real local CDN over real s3rver
 * and dynalite: each attack an outside probe found is tried as it was seen,
 * and must answer 4xx JSON, write nothing outside the staging bucket and
 * leave the server serving.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { fixture } from '../helpers/images.js';
import {
  amzNow,
  api,
  createUpload,
  pathOf,
  raw,
  STAGING_BUCKET,
  snapshotOutsideStaging,
  stagingSizes,
  withQuery,
} from './part-door.helpers.js';

const MB = 1024 * 1024;
const DOOR = `/_local/s3/${STAGING_BUCKET}/staged/x`;
/** Where s3rver keeps pending parts, relative to the data dir. */
const UPLOADS_DIR = join('s3', STAGING_BUCKET, '._S3rver_uploads');

describe('the local part door and staged uploads as boundaries', function () {
  this.timeout(120_000);
  let root: string;
  let dataDir: string;
  let server: LocalServer;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'edge-resizer-door-'));
    dataDir = join(root, 'data');
    await mkdir(dataDir);
    server = await startLocalServer({
      dataDir,
      port: 0,
      seedSamples: false,
      signingSecret: undefined,
      log: () => {},
    });
    const put = await fetch(`${server.url}/api/images/samples/fig.jpg`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.apiToken}` },
      body: new Uint8Array(fixture('photos/fig.jpg')),
    });
    expect(put.status).to.equal(201);
  });
  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  async function stillServing() {
    const response = await api(server.url, server.apiToken, 'GET', '/api/images/samples/fig.jpg');
    expect(response.status).to.equal(200);
  }

  function expectJsonError(response: { status: number; headers: Record<string, unknown>; body: string }) {
    expect(response.status, response.body).to.be.within(400, 499);
    expect(String(response.headers['content-type'])).to.match(/^application\/json/);
    const body = JSON.parse(response.body);
    expect(body).to.have.keys('status', 'code', 'message');
    expect(response.body).to.not.include(dataDir);
  }

  describe('finding 1: a part PUT naming a path writes nothing anywhere', () => {
    it('the repro (uploadId=../../../../escape, partNumber=pwned.txt, a made-up signature) is 4xx and writes no file', async () => {
      const before = await snapshotOutsideStaging(root, dataDir);
      const response = await raw(
        server.url,
        'PUT',
        `${DOOR}?partNumber=pwned.txt&uploadId=..%2F..%2F..%2F..%2Fescape&X-Amz-Signature=x&X-Amz-Date=${amzNow()}&X-Amz-Expires=600`,
        { body: '<h1>pwned</h1>' },
      );
      expectJsonError(response);
      expect(await stat(join(root, 'escape')).catch(() => undefined)).to.equal(undefined);
      expect(await snapshotOutsideStaging(root, dataDir)).to.deep.equal(before);
      await stillServing();
    });

    it('signing-keys.json, master.key and api-token cannot be replaced through it', async () => {
      const before = await snapshotOutsideStaging(root, dataDir);
      for (const name of ['signing-keys.json', 'master.key', 'api-token']) {
        const response = await raw(
          server.url,
          'PUT',
          `${DOOR}?partNumber=${name}&uploadId=..%2F..%2F..&X-Amz-Signature=x&X-Amz-Date=${amzNow()}&X-Amz-Expires=600`,
          { body: '{"keys":[]}' },
        );
        expectJsonError(response);
      }
      expect(await stat(join(dataDir, 'signing-keys.json')).catch(() => undefined)).to.equal(undefined);
      expect(await snapshotOutsideStaging(root, dataDir)).to.deep.equal(before);
    });

    it('two PUTs cannot plant an HTML "derivative" that the image URL then serves', async () => {
      // A real derivative shows where one lives on disk; the plant aims at its neighbour's place.
      const first = await fetch(`${server.url}/samples/fig.jpg?width=100`);
      expect(first.status).to.equal(200);
      await first.arrayBuffer();
      const derivatives = join(dataDir, 's3', server.config.derivativesBucket);
      const entries = await readdir(derivatives, { recursive: true, withFileTypes: true });
      const stored = entries.find((entry) => entry.isFile() && /^w100-.*\._S3rver_object$/.test(entry.name));
      expect(stored, 'the first derivative on disk').to.not.equal(undefined);
      const object = (stored?.name ?? '').replace('w100-', 'w101-');
      const upward = relative(join(dataDir, UPLOADS_DIR), stored?.parentPath ?? '');
      const before = await snapshotOutsideStaging(root, dataDir);
      const plants: [string, string][] = [
        [object, '<script>alert(1)</script>'],
        [object.replace('._S3rver_object', '._S3rver_metadata.json'), '{"content-type":"text/html"}'],
      ];
      for (const [file, body] of plants) {
        const response = await raw(
          server.url,
          'PUT',
          `${DOOR}?partNumber=${encodeURIComponent(file)}&uploadId=${encodeURIComponent(upward)}&X-Amz-Signature=x&X-Amz-Date=${amzNow()}&X-Amz-Expires=600`,
          { body },
        );
        expectJsonError(response);
      }
      expect(await snapshotOutsideStaging(root, dataDir)).to.deep.equal(before);
      const served = await fetch(`${server.url}/samples/fig.jpg?width=101`);
      expect(served.status).to.equal(200);
      expect(served.headers.get('content-type')).to.match(/^image\//);
      expect((await sharp(new Uint8Array(await served.arrayBuffer())).metadata()).width).to.equal(101);
    });
  });

  describe('finding 2: one PUT cannot kill the server or break uploads', () => {
    it('partNumber=.. with uploadId=a-b, before and after a staged upload exists: 4xx, still serving, uploads still work', async () => {
      const evil = () =>
        raw(
          server.url,
          'PUT',
          `${DOOR}?partNumber=..&uploadId=a-b&X-Amz-Signature=x&X-Amz-Date=${amzNow()}&X-Amz-Expires=600`,
          { body: 'x' },
        );
      expectJsonError(await evil());
      const created = await createUpload(server.url, server.apiToken, 'door/two.jpg', 1000);
      expectJsonError(await evil());
      await stillServing();
      expect((await stat(join(dataDir, UPLOADS_DIR))).isDirectory()).to.equal(true);
      expect(
        (await api(server.url, server.apiToken, 'POST', '/api/uploads', { key: 'x.jpg', bytes: 10 })).status,
      ).to.equal(201);
      expect((await api(server.url, server.apiToken, 'DELETE', `/api/uploads/${created.uploadId}`)).status).to.equal(
        204,
      );
    });
  });

  describe('finding 3: complete and abort never crash', () => {
    it('complete listing a part never uploaded: 400 JSON, still serving', async () => {
      const created = await createUpload(server.url, server.apiToken, 'door/missing.png', 9 * MB);
      expect(created.parts).to.have.length(2);
      const done = await api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
        parts: [
          { partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' },
          { partNumber: 2, etag: '"0123456789abcdef0123456789abcdef"' },
        ],
      });
      expect(done.status, done.text).to.equal(400);
      expect(done.json()).to.include({ code: 'invalid_param' });
      await stillServing();
    });

    it('complete racing DELETE: one winner, the other 409 conflict, still serving', async () => {
      const jpeg = new Uint8Array(fixture('photos/fig.jpg'));
      for (let round = 0; round < 3; round++) {
        const key = `door/race-${round}.jpg`;
        const created = await createUpload(server.url, server.apiToken, key, jpeg.length);
        const part = await fetch(created.parts[0]?.url as string, { method: 'PUT', body: jpeg });
        expect(part.status).to.equal(200);
        const parts = [{ partNumber: 1, etag: part.headers.get('etag') as string }];
        const [done, aborted] = await Promise.all([
          api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, { parts }),
          api(server.url, server.apiToken, 'DELETE', `/api/uploads/${created.uploadId}`),
        ]);
        expect([
          [201, 409],
          [409, 204],
        ]).to.deep.include([done.status, aborted.status]);
        const info = await api(server.url, server.apiToken, 'GET', `/api/images/${key}`);
        expect(info.status).to.equal(done.status === 201 ? 200 : 404);
      }
      await stillServing();
    });
  });

  describe('finding 4: one upload id completes once', () => {
    it('six concurrent completes: one 201, five 409 conflict, one version', async () => {
      const jpeg = new Uint8Array(fixture('photos/fig.jpg'));
      const created = await createUpload(server.url, server.apiToken, 'door/six.jpg', jpeg.length);
      const part = await fetch(created.parts[0]?.url as string, { method: 'PUT', body: jpeg });
      const parts = [{ partNumber: 1, etag: part.headers.get('etag') as string }];
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, { parts }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).to.deep.equal([201, 409, 409, 409, 409, 409]);
      const info = await api(server.url, server.apiToken, 'GET', '/api/images/door/six.jpg');
      expect(info.json().versions).to.have.length(1);
    });
  });

  describe("finding 5: the part door has S3's limits", () => {
    it('an 80 MB part for a declared 1,000-byte upload is refused before it is written', async () => {
      const created = await createUpload(server.url, server.apiToken, 'door/small.jpg', 1000);
      const response = await raw(server.url, 'PUT', pathOf(created.parts[0]?.url as string), { bodyBytes: 80 * MB });
      // Refused at the headers: the door answers, or cuts the connection it will not read.
      if (response.status !== 0) expectJsonError(response);
      expect((await stagingSizes(dataDir)).filter((file) => file.size > 1000)).to.deep.equal([]);
      await stillServing();
    });

    it('partNumber 0, 10001, abc and a part never issued are refused, even with the URL otherwise intact', async () => {
      const created = await createUpload(server.url, server.apiToken, 'door/numbers.jpg', 1000);
      const url = created.parts[0]?.url as string;
      for (const partNumber of ['0', '10001', 'abc', '2', '01']) {
        const response = await raw(server.url, 'PUT', withQuery(url, 'partNumber', partNumber), {
          body: new Uint8Array(1000),
        });
        expectJsonError(response);
        expect(response.status).to.equal(403);
      }
      expect((await stagingSizes(dataDir)).filter((file) => /\/\d+$/.test(file.path))).to.deep.equal([]);
    });

    it('a forged signature, or a moved X-Amz-Date, is refused; the issued URL works', async () => {
      const created = await createUpload(server.url, server.apiToken, 'door/forged.jpg', 1000);
      const url = created.parts[0]?.url as string;
      const forged = await raw(server.url, 'PUT', withQuery(url, 'X-Amz-Signature', '0'.repeat(64)), {
        body: new Uint8Array(1000),
      });
      expectJsonError(forged);
      expect(JSON.parse(forged.body)).to.include({ code: 'invalid_signature' });
      const moved = await raw(server.url, 'PUT', withQuery(url, 'X-Amz-Date', '20990101T000000Z'), {
        body: new Uint8Array(1000),
      });
      expectJsonError(moved);
      const extra = await raw(server.url, 'PUT', `${pathOf(url)}&x-amz-acl=public-read`, {
        body: new Uint8Array(1000),
      });
      expectJsonError(extra);
      const wrongSize = await raw(server.url, 'PUT', pathOf(url), { body: new Uint8Array(999) });
      expectJsonError(wrongSize);
      const issued = await raw(server.url, 'PUT', pathOf(url), { body: new Uint8Array(1000) });
      expect(issued.status, issued.body).to.equal(200);
      expect(issued.headers.etag).to.be.a('string');
    });

    it("complete with a wrong ETag is 400 (S3's InvalidPart), and the right one then completes", async () => {
      const jpeg = new Uint8Array(fixture('photos/fig.jpg'));
      const created = await createUpload(server.url, server.apiToken, 'door/etag.jpg', jpeg.length);
      const part = await fetch(created.parts[0]?.url as string, { method: 'PUT', body: jpeg });
      const wrong = await api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
        parts: [{ partNumber: 1, etag: '"ffffffffffffffffffffffffffffffff"' }],
      });
      expect(wrong.status, wrong.text).to.equal(400);
      const right = await api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
        parts: [{ partNumber: 1, etag: part.headers.get('etag') }],
      });
      expect(right.status, right.text).to.equal(201);
    });
  });

  describe('the other local-only doors', () => {
    it('CORS names only the CDN itself: a foreign origin gets no Access-Control-Allow-Origin, preflight or PUT', async () => {
      const created = await createUpload(server.url, server.apiToken, 'door/cors.jpg', 1000);
      const path = pathOf(created.parts[0]?.url as string);
      const foreign = { origin: 'https://evil.example', 'access-control-request-method': 'PUT' };
      const preflight = await raw(server.url, 'OPTIONS', path, { headers: foreign });
      expect(preflight.status).to.equal(403);
      expect(preflight.headers['access-control-allow-origin']).to.equal(undefined);
      const put = await raw(server.url, 'PUT', path, { headers: { origin: 'https://evil.example' }, body: 'x' });
      expect(put.headers['access-control-allow-origin']).to.equal(undefined);
      const own = await raw(server.url, 'OPTIONS', path, { headers: { origin: server.url } });
      expect(own.status).to.equal(204);
      expect(own.headers['access-control-allow-origin']).to.equal(server.url);
    });

    it('any other /_local/ path is a 404, and the part door takes nothing but staged objects', async () => {
      for (const path of ['/_local/', '/_local/x', '/_local/s3', `/_local/s3/${STAGING_BUCKET}/../../x`]) {
        expectJsonError(await raw(server.url, 'PUT', path, { body: 'x' }));
      }
      for (const path of [
        `/_local/s3/${server.config.originalsBucket}/staged/0123456789abcdef0123456789abcdef`,
        `/_local/s3/${STAGING_BUCKET}/claims/staged/0123456789abcdef0123456789abcdef`,
        `/_local/s3/${STAGING_BUCKET}/staged/..%2F..%2Fx`,
      ]) {
        const response = await raw(server.url, 'PUT', `${path}?partNumber=1&uploadId=a`, { body: 'x' });
        expect(response.status).to.equal(404);
        expect(response.body).to.not.include(server.config.originalsBucket);
      }
    });
  });
});
