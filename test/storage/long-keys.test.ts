/**
 * Valid image keys with segments far over s3rver's 255-byte
 * file names: they work locally as on S3, end to end
 * through the local CDN and at the store, and listings with a long prefix
 * find them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { S3RVER_KEY_CODEC } from '../../src/storage/key-codec.js';
import { fixture } from '../helpers/images.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

const SEGMENTS = [241, 300, 500];
const segment = (length: number, char = 'a') => char.repeat(length);

describe('storage/key-codec', () => {
  it('round-trips and preserves prefixes, splitting only segments over 200 characters', () => {
    for (const key of ['a/b.jpg', `t/${segment(500)}.png`, `${segment(200)}/${segment(201)}`, `x/${segment(400)}`]) {
      const stored = S3RVER_KEY_CODEC.encode(key);
      expect(S3RVER_KEY_CODEC.decode(stored)).to.equal(key);
      for (const part of stored.split('/')) expect(part.length).to.be.at.most(201);
      for (let cut = 1; cut < key.length; cut += 37) {
        expect(stored.startsWith(S3RVER_KEY_CODEC.encode(key.slice(0, cut))), `${key.length}@${cut}`).to.equal(true);
      }
    }
    expect(S3RVER_KEY_CODEC.encode('photos/cat.jpg/w400-hauto-q80-cover.webp')).to.equal(
      'photos/cat.jpg/w400-hauto-q80-cover.webp',
    );
  });
});

describe('long key segments through the local CDN', () => {
  let dir: string;
  let server: LocalServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-long-keys-'));
    server = await startLocalServer({ dataDir: dir, port: 0, seedSamples: false, logLevel: 'error', log: () => {} });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const api = (method: string, path: string, body?: Buffer<ArrayBuffer>) =>
    fetch(`${server.url}/api/images${path}`, {
      method,
      headers: { authorization: `Bearer ${server.apiToken}` },
      body,
    });

  for (const length of SEGMENTS) {
    it(`a ${length}-character segment: GET of a missing key is 404; PUT, GET, resize, DELETE round-trip`, async () => {
      const key = `long/${segment(length - 4)}.png`;
      const missing = await fetch(`${server.url}/${key}?width=20`);
      expect(missing.status, await missing.text()).to.equal(404);

      const put = await api('PUT', `/${key}`, fixture('photos/fig.jpg'));
      expect(put.status, await put.clone().text()).to.equal(201);
      expect((await put.json()).key).to.equal(key);
      const meta = await api('GET', `/${key}`);
      expect(meta.status).to.equal(200);
      expect((await meta.json()).key).to.equal(key);

      const image = await fetch(`${server.url}/${key}?width=40`, { headers: { accept: 'image/webp' } });
      expect(image.status, image.status === 200 ? '' : await image.text()).to.equal(200);
      expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).to.equal(40);

      const deleted = await api('DELETE', `/${key}`);
      expect(deleted.status, await deleted.text()).to.equal(204);
      expect((await api('GET', `/${key}`)).status).to.equal(404);
      const gone = await fetch(`${server.url}/${key}?width=41`);
      expect(gone.status).to.equal(404);
    });
  }

  it('POST with a 230-character ?prefix= stores the image under it, and the listing with that prefix finds it', async () => {
    const prefix = `p/${segment(230, 'b')}`;
    const posted = await fetch(`${server.url}/api/images?prefix=${prefix}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiToken}` },
      body: fixture('photos/fig.jpg'),
    });
    expect(posted.status, await posted.clone().text()).to.equal(201);
    const { key } = await posted.json();
    expect(key.startsWith(prefix)).to.equal(true);
    const listing = await fetch(`${server.url}/api/images?prefix=${prefix}`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    expect(listing.status).to.equal(200);
    const keys = (await listing.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line).key);
    expect(keys).to.deep.equal([key]);
  });
});

describe('long key segments at the store', () => {
  let storage: TestStorage;
  before(async () => {
    storage = await startTestStorage();
  });
  after(async () => storage?.close());

  it('lists originals directly under a prefix, long segments included, and purges derivatives of a long key', async () => {
    const store = storage.store;
    const keys = ['dir/short.jpg', `dir/${segment(300, 'c')}.jpg`, `dir/${segment(500, 'd')}`, 'dir/sub/deeper.jpg'];
    for (const key of keys) await store.putOriginal(key, Buffer.from(key), {}, Buffer.byteLength(key));
    const listed: string[] = [];
    for await (const page of store.listOriginals('dir/')) listed.push(...page);
    expect(listed.sort()).to.deep.equal(keys.slice(0, 3).sort());
    const longPrefix: string[] = [];
    for await (const page of store.listOriginals(`dir/${segment(250, 'c')}`)) longPrefix.push(...page);
    expect(longPrefix).to.deep.equal([keys[1]]);
    for (const key of keys) expect((await store.getOriginal(key))?.body.toString()).to.equal(key);

    const long = keys[2] as string;
    for (const width of [1, 2, 3]) {
      await store.putDerivative(`${long}/w${width}-hauto-q80-cover.webp`, Buffer.from('x'), 'image/webp', 'x');
    }
    await store.putDerivative(`${long}/other.jpg/w1-hauto-q80-cover.webp`, Buffer.from('x'), 'image/webp', 'x');
    expect(await store.deleteDerivatives(long)).to.equal(3);
    // The nested key's derivative is another key's and stays.
    const { Contents = [] } = await storage.client.send(
      new ListObjectsV2Command({ Bucket: storage.config.derivativesBucket }),
    );
    expect(Contents.map((o) => S3RVER_KEY_CODEC.decode(o.Key ?? ''))).to.deep.equal([
      `${long}/other.jpg/w1-hauto-q80-cover.webp`,
    ]);
  });
});
