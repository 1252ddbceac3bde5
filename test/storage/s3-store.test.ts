/**
 * The S3 adapter against a real s3rver, directly and through the fault proxy:
 * refused writes are errors (only reads mean "missing"), batch deletes check
 * their per-key errors, metadata round-trips, and every call honours its signal.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import type { S3Store } from '../../src/storage/s3-store.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

async function rejection(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error('Expected a rejection but the call succeeded');
}

describe('storage/s3-store', () => {
  let storage: TestStorage;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let proxied: S3Store;

  before(async () => {
    storage = await startTestStorage({ storage: { timeoutMs: 5000, maxAttempts: 1 } });
    proxy = await startFaultProxy(storage.server.endpoint);
    proxied = storage.storeAt(proxy.endpoint);
  });
  afterEach(() => proxy.set({ kind: 'pass' }));
  after(async () => {
    await proxy.close();
    await storage.close();
  });

  const derivatives = () => `/${storage.config.derivativesBucket}`;
  const originals = () => `/${storage.config.originalsBucket}`;

  describe('truthful writes', () => {
    it('a derivative PUT refused with 403 AccessDenied is a storage_error, and nothing is stored', async () => {
      proxy.set({ kind: 'deny-writes', pathPrefix: derivatives() });
      const error = await rejection(
        proxied.putDerivative('w/a.jpg/w10-hauto-q80-cover.webp', Buffer.from('x'), 'image/webp', 'no-cache'),
      );
      expect(error.code).to.equal('storage_error');
      expect(error.status).to.equal(502);
      expect(error.message).not.to.include(storage.config.derivativesBucket);
      proxy.set({ kind: 'pass' });
      expect(await proxied.getDerivative('w/a.jpg/w10-hauto-q80-cover.webp')).to.equal(undefined);
    });

    it('a refused original PUT, copy and delete are storage_errors; the refused delete leaves the object', async () => {
      await proxied.putOriginal('w/o.jpg', Buffer.from('sealed'), { 'resizer-object': 'w/o.jpg' }, 6);
      proxy.set({ kind: 'deny-writes', pathPrefix: originals() });
      expect((await rejection(proxied.putOriginal('w/p.jpg', Buffer.from('x'), {}, 1))).code).to.equal('storage_error');
      expect((await rejection(proxied.copyOriginal('w/o.jpg', 'w/copy.jpg'))).code).to.equal('storage_error');
      expect((await rejection(proxied.deleteOriginal('w/o.jpg'))).code).to.equal('storage_error');
      expect((await rejection(proxied.updateOriginalMetadata('w/o.jpg', { 'focal-point': '0.1,0.2' }))).code).to.equal(
        'storage_error',
      );
      // Reads still pass, and the object is still there.
      expect((await proxied.getOriginal('w/o.jpg'))?.body.toString()).to.equal('sealed');
    });

    it('reads of a missing key, 404 or 403, are "missing", and a copy from a missing source is false', async () => {
      expect(await proxied.getOriginal('w/none.jpg')).to.equal(undefined);
      expect(await proxied.headOriginal('w/none.jpg')).to.equal(undefined);
      expect(await proxied.getDerivative('w/none.jpg/w1-hauto-q80-cover.webp')).to.equal(undefined);
      expect(await proxied.copyOriginal('w/none.jpg', 'w/none-copy.jpg')).to.equal(false);
    });

    it('a purge whose DeleteObjects partly fails is a storage_error; the refused derivatives stay, a retry finishes', async () => {
      const key = 'w/purge.jpg';
      for (let width = 1; width <= 6; width += 1) {
        await proxied.putDerivative(`${key}/w${width}-hauto-q80-cover.webp`, Buffer.from('x'), 'image/webp', 'x');
      }
      proxy.set({ kind: 'partial-delete', refuse: /w[24]-/ });
      const error = await rejection(proxied.deleteDerivatives(key));
      expect(error.code).to.equal('storage_error');
      expect(error.message).to.include('2 derivatives');
      proxy.set({ kind: 'pass' });
      const left: string[] = [];
      for await (const page of proxied.listDerivatives(`${key}/`)) left.push(...page);
      expect(left.sort()).to.deep.equal([`${key}/w2-hauto-q80-cover.webp`, `${key}/w4-hauto-q80-cover.webp`]);
      expect(await proxied.deleteDerivatives(key)).to.equal(2);
    });
  });

  describe('the adapter API others call', () => {
    it('headOriginal gives length, ETag and metadata without the body', async () => {
      const body = Buffer.alloc(3000, 7);
      await storage.store.putOriginal('m/open.jpg', body, { 'x-amz-iv': 'iv', 'focal-point': '0.5,0.5' }, body.length);
      const head = await storage.store.headOriginal('m/open.jpg');
      expect(head).to.include({ length: 3000 });
      expect(head).not.to.have.property('totalLength');
      expect(head?.etag).to.match(/^".+"$/);
      expect(head?.metadata).to.deep.equal({ 'x-amz-iv': 'iv', 'focal-point': '0.5,0.5' });
      expect(await storage.store.headOriginal('m/none.jpg')).to.equal(undefined);
    });

    it('updateOriginalMetadata sets and removes names in place and keeps the rest and the body', async () => {
      const envelope = { 'x-amz-key-v2': 'wrapped', 'x-amz-iv': 'iv', 'resizer-object': '_versions/m/f.jpg/1' };
      await storage.store.putOriginal('m/f.jpg', Buffer.from('sealed bytes'), envelope, 12);
      expect(await storage.store.updateOriginalMetadata('m/f.jpg', { 'focal-point': '0.3,0.6' })).to.deep.equal({
        ...envelope,
        'focal-point': '0.3,0.6',
      });
      let stored = await storage.store.getOriginal('m/f.jpg');
      expect(stored?.metadata).to.deep.equal({ ...envelope, 'focal-point': '0.3,0.6' });
      expect(stored?.body.toString()).to.equal('sealed bytes');
      await storage.store.updateOriginalMetadata('m/f.jpg', { 'focal-point': null });
      stored = await storage.store.getOriginal('m/f.jpg');
      expect(stored?.metadata).to.deep.equal(envelope);
      expect(await storage.store.updateOriginalMetadata('m/none.jpg', { 'focal-point': '0,0' })).to.equal(undefined);
    });

    it('putDerivative stores extra metadata that getDerivative returns', async () => {
      const key = 'm/d.jpg/w5-hauto-q80-cover.webp';
      await storage.store.putDerivative(key, Buffer.from('webp'), 'image/webp', 'public, max-age=1', {
        metadata: { 'original-etag': '"abc"' },
      });
      const stored = await storage.store.getDerivative(key);
      expect(stored?.metadata).to.deep.equal({ 'original-etag': '"abc"' });
      expect(stored?.contentType).to.equal('image/webp');
    });

    it('a call whose signal aborts ends at once, its retries included, with the HttpError given as reason', async () => {
      const store = storage.storeAt(proxy.endpoint);
      proxy.set({ kind: 'delay', ms: 60_000 });
      const controller = new AbortController();
      const pending = store.getOriginal('m/open.jpg', { signal: controller.signal });
      setTimeout(() => controller.abort(new HttpError('busy', 'The image took too long to prepare; try again')), 50);
      const error = await rejection(pending);
      expect(error.code).to.equal('busy');
      // Without an HttpError reason it is a storage_error.
      const timeout = await rejection(
        store.putDerivative('m/x/y', Buffer.from('x'), 'a/b', 'x', {
          signal: AbortSignal.timeout(50),
        }),
      );
      expect(timeout.code).to.equal('storage_error');
    });
  });

  it('raw PutObject keys and store keys name the same objects for short keys', async () => {
    await storage.client.send(
      new PutObjectCommand({
        Bucket: storage.config.derivativesBucket,
        Key: 'raw/k.jpg/w1-hauto-q80-cover.png',
        Body: 'x',
      }),
    );
    expect((await storage.store.getDerivative('raw/k.jpg/w1-hauto-q80-cover.png'))?.body.toString()).to.equal('x');
  });
});
