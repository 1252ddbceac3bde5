/**
 * Staged multipart uploads against a real s3rver: presigned part URLs PUT over
 * plain HTTP, as a browser or the CLI would, completed into one object that
 * streams back byte for byte; an abort keeps nothing; an expired URL is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { createStagingStore, MIN_PART_BYTES, type StagingStore } from '../../src/storage/staging-store.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('storage/staging-store', () => {
  let storage: TestStorage;
  let staging: StagingStore;
  before(async () => {
    storage = await startTestStorage();
    staging = createStagingStore({ client: storage.client, stagingBucket: storage.config.stagingBucket });
  });
  after(async () => storage?.close());

  async function putPart(url: string, body: Buffer<ArrayBuffer>) {
    const response = await fetch(url, { method: 'PUT', body });
    return { status: response.status, etag: response.headers.get('etag'), text: await response.text() };
  }

  it('creates an upload, takes presigned parts over HTTP, completes, and streams the bytes back exactly', async () => {
    const key = 'staged/abc/original';
    const data = randomBytes(MIN_PART_BYTES + 123_456) as Buffer<ArrayBuffer>;
    const uploadId = await staging.create(key, { metadata: { 'content-sha256': sha256(data) } });
    const parts = [data.subarray(0, MIN_PART_BYTES), data.subarray(MIN_PART_BYTES)];
    const etags: { partNumber: number; etag: string }[] = [];
    for (const [index, part] of parts.entries()) {
      const url = await staging.presignPart(key, uploadId, index + 1, 600);
      expect(url).to.match(/X-Amz-Signature=/);
      const put = await putPart(url, part as Buffer<ArrayBuffer>);
      expect(put.status, put.text).to.equal(200);
      expect(put.etag).to.be.a('string');
      etags.push({ partNumber: index + 1, etag: put.etag as string });
    }
    expect((await staging.listParts(key, uploadId)).map((p) => p.partNumber)).to.deep.equal([1, 2]);
    await staging.complete(key, uploadId, etags.reverse());

    const opened = await staging.open(key);
    expect(opened?.length).to.equal(data.length);
    expect(opened?.metadata).to.deep.equal({ 'content-sha256': sha256(data) });
    const chunks: Buffer[] = [];
    for await (const chunk of opened?.stream ?? []) chunks.push(chunk as Buffer);
    expect(sha256(Buffer.concat(chunks))).to.equal(sha256(data));

    await staging.delete(key);
    expect(await staging.open(key)).to.equal(undefined);
  });

  it('an aborted upload keeps nothing and its part URLs stop working', async () => {
    const key = 'staged/aborted/original';
    const uploadId = await staging.create(key);
    const url = await staging.presignPart(key, uploadId, 1, 600);
    expect((await putPart(url, randomBytes(1000) as Buffer<ArrayBuffer>)).status).to.equal(200);
    await staging.abort(key, uploadId);
    expect(await staging.open(key)).to.equal(undefined);
    expect((await putPart(url, randomBytes(1000) as Buffer<ArrayBuffer>)).status).to.equal(404);
  });

  it('an expired part URL is refused', async () => {
    const key = 'staged/expired/original';
    const uploadId = await staging.create(key);
    const url = await staging.presignPart(key, uploadId, 1, 1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const put = await putPart(url, randomBytes(100) as Buffer<ArrayBuffer>);
    expect(put.status).to.equal(403);
    expect(put.text).to.include('expired');
    await staging.abort(key, uploadId);
  });

  it('a refused create, complete, abort or delete is a storage_error', async () => {
    const proxy = await startFaultProxy(storage.server.endpoint);
    const { createLocalS3Client } = await import('../../src/wiring/local.js');
    const client = createLocalS3Client(storage.config, proxy.endpoint);
    const denied = createStagingStore({ client, stagingBucket: storage.config.stagingBucket });
    try {
      proxy.set({ kind: 'deny-writes', pathPrefix: `/${storage.config.stagingBucket}` });
      for (const call of [
        () => denied.create('uploads/x/original'),
        () => denied.complete('uploads/x/original', 'id', [{ partNumber: 1, etag: '"e"' }]),
        () => denied.abort('uploads/x/original', 'id'),
        () => denied.delete('uploads/x/original'),
      ]) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(HttpError);
        expect((error as HttpError).code).to.equal('storage_error');
      }
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});
