/**
 * Purge, replace and delete at any derivative count (the
 * storage side): over 1,000 derivatives need a paged listing and several
 * DeleteObjects batches, and locally the paging must not depend on s3rver's
 * continuation tokens (which need OpenSSL's legacy DES cipher).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { type ApiHarness, startApi } from '../api/harness.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { fixture } from '../helpers/images.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

const COUNT = 1_150;

/** Raw PutObject of `count` tiny derivatives of `key`, 32 at a time. */
async function makeDerivatives(storage: TestStorage, key: string, count: number) {
  const names = Array.from({ length: count }, (_, i) => `${key}/w${i + 1}-hauto-q80-cover.webp`);
  for (let start = 0; start < names.length; start += 32) {
    await Promise.all(
      names.slice(start, start + 32).map((Key) =>
        storage.client.send(
          new PutObjectCommand({
            Bucket: storage.config.derivativesBucket,
            Key,
            Body: 'x',
            ContentType: 'image/webp',
          }),
        ),
      ),
    );
  }
}

describe(`over 1,000 derivatives (${COUNT})`, function () {
  this.timeout(180_000);

  describe('at the store', () => {
    let storage: TestStorage;
    let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
    before(async () => {
      storage = await startTestStorage();
      proxy = await startFaultProxy(storage.server.endpoint);
    });
    after(async () => {
      await proxy?.close();
      await storage?.close();
    });

    it('deleteDerivatives pages with start-after, deletes in batches of at most 1,000, and leaves none', async () => {
      const key = 'many/a.jpg';
      await makeDerivatives(storage, key, COUNT);
      await storage.store.putDerivative('many/a.jpg.keep/w1-hauto-q80-cover.webp', Buffer.from('x'), 'a/b', 'x');
      const store = storage.storeAt(proxy.endpoint);
      proxy.clearSeen();
      expect(await store.deleteDerivatives(key)).to.equal(COUNT);
      const listings = proxy.seen().filter((line) => line.startsWith('GET') && line.includes('list-type=2'));
      expect(listings.length).to.be.at.least(2);
      expect(listings.filter((line) => line.includes('continuation-token'))).to.deep.equal([]);
      expect(listings.some((line) => line.includes('start-after='))).to.equal(true);
      const batches = proxy.seen().filter((line) => line.startsWith('POST') && line.includes('delete'));
      expect(batches).to.have.length(2);
      const left: string[] = [];
      for await (const page of store.listDerivatives(`${key}/`)) left.push(...page);
      expect(left).to.deep.equal([]);
      expect(await store.getDerivative('many/a.jpg.keep/w1-hauto-q80-cover.webp')).not.to.equal(undefined);
    });
  });

  describe('through the API', () => {
    let api: ApiHarness;
    before(async () => {
      api = await startApi();
    });
    after(async () => api?.close());

    it('a replace purges them all and a DELETE removes them all with the original and its metadata', async () => {
      const key = 'many/b.jpg';
      expect((await api.request('PUT', `/api/images/${key}`, { body: fixture('photos/fig.jpg') })).status).to.equal(
        201,
      );
      await makeDerivatives(api.storage, key, COUNT);
      const replaced = await api.request('PUT', `/api/images/${key}`, { body: fixture('photos/mountains.jpg') });
      expect(replaced.status, replaced.body.toString()).to.equal(200);
      expect((await api.derivativeKeys()).filter((k) => k.startsWith(`${key}/`))).to.deep.equal([]);

      await makeDerivatives(api.storage, key, COUNT);
      const deleted = await api.request('DELETE', `/api/images/${key}`);
      expect(deleted.status, deleted.body.toString()).to.equal(204);
      expect((await api.derivativeKeys()).filter((k) => k.startsWith(`${key}/`))).to.deep.equal([]);
      expect((await api.originalKeys()).filter((k) => k.includes(key))).to.deep.equal([]);
      expect((await api.request('GET', `/api/images/${key}`)).status).to.equal(404);
    });
  });
});
