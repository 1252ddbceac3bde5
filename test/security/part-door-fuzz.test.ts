/**
 * A property-based test of the part door and the staged-upload API through a
 * real local CDN: random ids, part numbers, sizes, signatures, dates, paths,
 * mutations of real part URLs, and random orders and concurrency of completes
 * and aborts. Whatever the request, nothing is written outside s3rver's
 * staging bucket (but the images the fuzz itself completes), the server keeps
 * answering, and no upload id stores more than one version. Bounded to about
 * 20 s.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
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
  withQuery,
} from './part-door.helpers.js';

const HEX = '0123456789abcdef';
const hex = (length: number) => fc.string({ unit: fc.constantFrom(...HEX), minLength: length, maxLength: length });
/** Pieces an attacker builds ids and part numbers from. */
const nasty = fc.constantFrom(
  '..',
  '../',
  '..%2F',
  '%2F',
  '/',
  '.',
  'a-b',
  'escape',
  'signing-keys.json',
  'master.key',
  'api-token',
  '._S3rver_object',
  '._S3rver_uploads',
  '%00',
  '%252F',
  '\\',
);
const idLike = fc.oneof(
  hex(32),
  fc.array(fc.oneof(nasty, hex(4)), { minLength: 1, maxLength: 6 }).map((pieces) => pieces.join('')),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);
const partNumberLike = fc.oneof(
  fc.integer({ min: -2, max: 10_002 }).map(String),
  nasty,
  fc.constantFrom('abc', '01', '1e3', '1.0', ' 1', ''),
);

type Mutation =
  | 'none'
  | 'partNumber'
  | 'uploadId'
  | 'signature'
  | 'date'
  | 'expires'
  | 'smaller'
  | 'larger'
  | 'extra'
  | 'path'
  | 'duplicate';

const attack = fc.record({
  kind: fc.constant('attack' as const),
  tail: fc.oneof(
    fc.constant('staged/x'),
    hex(32).map((h) => `staged/${h}`),
    fc.array(nasty, { minLength: 1, maxLength: 4 }).map((p) => `staged/${p.join('')}`),
  ),
  uploadId: idLike,
  partNumber: partNumberLike,
  signature: fc.oneof(fc.constant('x'), hex(64)),
  date: fc.oneof(fc.constant('now'), fc.constantFrom('20990101T000000Z', '19700101T000000Z', 'x')),
  expires: fc.constantFrom('600', '0', '-1', '604801', 'abc'),
  bytes: fc.integer({ min: 0, max: 4096 }),
});

const mutate = fc.record({
  kind: fc.constant('mutate' as const),
  bytes: fc.integer({ min: 1, max: 3000 }),
  mutation: fc.constantFrom<Mutation>(
    'none',
    'partNumber',
    'uploadId',
    'signature',
    'date',
    'expires',
    'smaller',
    'larger',
    'extra',
    'path',
    'duplicate',
  ),
  value: fc.oneof(partNumberLike, idLike),
});

const race = fc.record({
  kind: fc.constant('race' as const),
  actions: fc.array(fc.constantFrom('complete', 'abort'), { minLength: 1, maxLength: 6 }),
  wrongEtagFirst: fc.boolean(),
});

type Input<A> = A extends fc.Arbitrary<infer T> ? T : never;

describe('fuzz: the part door and staged uploads through the local CDN', function () {
  this.timeout(90_000);
  let root: string;
  let dataDir: string;
  let server: LocalServer;
  const jpeg = new Uint8Array(fixture('photos/fig.jpg'));
  const completedKeys = new Set<string>();
  let keyCount = 0;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'edge-resizer-door-fuzz-'));
    dataDir = join(root, 'data');
    await mkdir(dataDir);
    server = await startLocalServer({ dataDir, port: 0, seedSamples: false, log: () => {} });
    const put = await fetch(`${server.url}/api/images/samples/fig.jpg`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.apiToken}` },
      body: jpeg,
    });
    expect(put.status).to.equal(201);
  });
  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Everything but the staging bucket and the fuzz's own images (`fuzz/…` in the originals and derivatives). */
  async function outside() {
    const files = await snapshotOutsideStaging(root, dataDir);
    for (const path of files.keys()) {
      const inImages =
        path.includes(`${server.config.originalsBucket}/`) || path.includes(`${server.config.derivativesBucket}/`);
      if (inImages && /(^|\/)fuzz\//.test(path)) files.delete(path);
    }
    return files;
  }

  async function runAttack(input: Input<typeof attack>) {
    const date = input.date === 'now' ? amzNow() : input.date;
    const path = `/_local/s3/${STAGING_BUCKET}/${input.tail}?partNumber=${input.partNumber}&uploadId=${input.uploadId}&X-Amz-Signature=${input.signature}&X-Amz-Date=${date}&X-Amz-Expires=${input.expires}`;
    // node:http refuses to send control characters and spaces raw; a browser escapes them too.
    const sent = path.replace(/[^\u0021-\u00ff]/g, (c) => encodeURIComponent(c));
    const response = await raw(server.url, 'PUT', sent, { body: new Uint8Array(input.bytes) });
    expect(response.status, `${sent} → ${response.body}`).to.be.within(400, 499);
    expect(JSON.parse(response.body)).to.have.keys('status', 'code', 'message');
  }

  async function runMutation(input: Input<typeof mutate>) {
    const created = await createUpload(server.url, server.apiToken, `fuzz/m${keyCount++}.jpg`, input.bytes);
    const url = created.parts[0]?.url as string;
    let path = pathOf(url);
    let size = input.bytes;
    const flip = (text: string) => `${text.slice(0, -1)}${text.endsWith('0') ? '1' : '0'}`;
    const query = new URL(url).searchParams;
    switch (input.mutation) {
      case 'partNumber':
        path = withQuery(url, 'partNumber', input.value === '1' ? '2' : input.value);
        break;
      case 'uploadId':
        path = withQuery(url, 'uploadId', input.value);
        break;
      case 'signature':
        path = withQuery(url, 'X-Amz-Signature', flip(query.get('X-Amz-Signature') as string));
        break;
      case 'date':
        path = withQuery(url, 'X-Amz-Date', amzNow() === query.get('X-Amz-Date') ? '20990101T000000Z' : amzNow());
        break;
      case 'expires':
        path = withQuery(url, 'X-Amz-Expires', '604800');
        break;
      case 'smaller':
        size -= 1;
        break;
      case 'larger':
        size += 1;
        break;
      case 'extra':
        path = `${path}&x-amz-acl=public-read`;
        break;
      case 'path':
        path = path.replace('/staged/', '/staged/../');
        break;
      case 'duplicate':
        path = `${path}&partNumber=1`;
        break;
    }
    const sent = path.replace(/[^\u0021-\u00ff]/g, (c) => encodeURIComponent(c));
    const response = await raw(server.url, 'PUT', sent, { body: new Uint8Array(size) });
    // The date moved by the same second still signs the same: only a real change must fail.
    const unchanged = input.mutation === 'none' || (input.mutation === 'date' && pathOf(url) === path);
    if (unchanged) expect(response.status, response.body).to.equal(200);
    else expect(response.status, `${input.mutation} ${path} → ${response.body}`).to.be.within(400, 499);
    await api(server.url, server.apiToken, 'DELETE', `/api/uploads/${created.uploadId}`);
  }

  async function runRace(input: Input<typeof race>) {
    const key = `fuzz/r${keyCount++}.jpg`;
    const created = await createUpload(server.url, server.apiToken, key, jpeg.length);
    const part = await fetch(created.parts[0]?.url as string, { method: 'PUT', body: jpeg });
    expect(part.status).to.equal(200);
    const parts = [{ partNumber: 1, etag: part.headers.get('etag') as string }];
    if (input.wrongEtagFirst) {
      const wrong = await api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, {
        parts: [{ partNumber: 1, etag: '"ffffffffffffffffffffffffffffffff"' }],
      });
      expect(wrong.status).to.equal(400);
    }
    const answers = await Promise.all(
      input.actions.map((action) =>
        action === 'complete'
          ? api(server.url, server.apiToken, 'POST', `/api/uploads/${created.uploadId}/complete`, { parts })
          : api(server.url, server.apiToken, 'DELETE', `/api/uploads/${created.uploadId}`),
      ),
    );
    const created201 = answers.filter((answer) => answer.status === 201).length;
    expect(created201).to.be.at.most(1);
    for (const [i, answer] of answers.entries()) {
      const allowed = input.actions[i] === 'complete' ? [201, 409] : [204, 409];
      expect(allowed, answer.text).to.include(answer.status);
    }
    const info = await api(server.url, server.apiToken, 'GET', `/api/images/${key}`);
    if (created201 === 1) {
      completedKeys.add(key);
      expect(info.json().versions).to.have.length(1);
    } else {
      expect(info.status).to.equal(404);
    }
  }

  it('never writes outside the staging bucket, never crashes, never stores two versions for one upload id', async () => {
    const before = await outside();
    await fc.assert(
      fc.asyncProperty(fc.oneof(attack, attack, mutate, race), async (input) => {
        if (input.kind === 'attack') await runAttack(input);
        else if (input.kind === 'mutate') await runMutation(input);
        else await runRace(input);
        const alive = await api(server.url, server.apiToken, 'GET', '/api/images/samples/fig.jpg');
        expect(alive.status).to.equal(200);
      }),
      { numRuns: 250, interruptAfterTimeLimit: 25_000 },
    );
    expect(await outside()).to.deep.equal(before);
    for (const key of completedKeys) {
      const info = await api(server.url, server.apiToken, 'GET', `/api/images/${key}`);
      expect(info.json().versions).to.have.length(1);
    }
  });
});
