/**
 * The embedded s3rver held to S3's multipart and conditional-write rules, seen
 * by the real SDK client: what the staging store relies on locally must be
 * what S3 does deployed ("UploadPart", "CompleteMultipartUpload", Amazon S3
 * API Reference; "Amazon S3 multipart upload limits" and "How to prevent
 * object overwrites with conditional writes", Amazon S3 User Guide).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { type EmbeddedServer, startS3rver } from '../../src/local/embedded-servers.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';

const BUCKET = 'rules-bucket';
const MIB = 1024 * 1024;

async function refusal(send: Promise<unknown>): Promise<{ name?: string; status?: number }> {
  try {
    await send;
  } catch (error) {
    const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.Code ?? e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected S3 to refuse');
}

describe("s3rver with S3's multipart and conditional-write rules", function () {
  this.timeout(60_000);
  let dir: string;
  let s3rver: EmbeddedServer;
  let client: S3Client;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-s3-rules-'));
    s3rver = await startS3rver({ directory: join(dir, 's3'), buckets: [BUCKET] });
    client = createS3Client({
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      endpoint: s3rver.endpoint,
      timeoutMs: 10_000,
      maxAttempts: 1,
    });
  });
  after(async () => {
    client?.destroy();
    await s3rver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(key: string): Promise<string> {
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    return created.UploadId as string;
  }
  async function part(key: string, uploadId: string, partNumber: number, bytes: number) {
    const answer = await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: Buffer.alloc(bytes, partNumber),
      }),
    );
    return { PartNumber: partNumber, ETag: answer.ETag as string };
  }
  const complete = (key: string, uploadId: string, parts: { PartNumber: number; ETag: string }[]) =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );

  it('part numbers outside 1..10000 are InvalidArgument, upload ids it did not issue NoSuchUpload; no file is made', async () => {
    const uploadId = await start('a');
    for (const partNumber of [0, 10_001]) {
      expect(await refusal(part('a', uploadId, partNumber, 10))).to.include({ status: 400, name: 'InvalidArgument' });
    }
    for (const bad of ['../../escape', 'a-b', '..', `${uploadId}/..`, uploadId.toUpperCase()]) {
      expect(await refusal(part('a', bad, 1, 10))).to.include({ status: 404 });
    }
    // The same id for another key is not that key's upload.
    expect(await refusal(part('b', uploadId, 1, 10))).to.include({ status: 404 });
    const files = await readdir(dir, { recursive: true });
    expect(files.filter((name) => name.includes('escape'))).to.deep.equal([]);
  });

  it('complete refuses what S3 refuses: InvalidPartOrder, InvalidPart (missing, wrong ETag), EntityTooSmall', async () => {
    const uploadId = await start('c');
    const one = await part('c', uploadId, 1, 5 * MIB);
    const two = await part('c', uploadId, 2, 10);
    expect(await refusal(complete('c', uploadId, [two, one]))).to.include({ status: 400, name: 'InvalidPartOrder' });
    expect(await refusal(complete('c', uploadId, [one, { PartNumber: 3, ETag: two.ETag }]))).to.include({
      name: 'InvalidPart',
    });
    expect(
      await refusal(complete('c', uploadId, [{ ...one, ETag: '"00000000000000000000000000000000"' }, two])),
    ).to.include({ name: 'InvalidPart' });
    const small = await start('d');
    const tiny = await part('d', small, 1, 10);
    const last = await part('d', small, 2, 10);
    expect(await refusal(complete('d', small, [tiny, last]))).to.include({ status: 400, name: 'EntityTooSmall' });
    // The upload is still open after refusals, and completes with the right list, once.
    await complete('c', uploadId, [one, two]);
    expect(await refusal(complete('c', uploadId, [one, two]))).to.include({ status: 404 });
    expect(
      await refusal(client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'c', UploadId: uploadId }))),
    ).to.include({ status: 404 });
  });

  it('PutObject with If-None-Match: * creates once; of concurrent ones exactly one wins', async () => {
    const put = () =>
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'claims/x', Body: 'complete', IfNoneMatch: '*' }));
    const results = await Promise.allSettled(Array.from({ length: 6 }, put));
    expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
    for (const result of results) {
      if (result.status === 'rejected') {
        expect([409, 412]).to.include(
          (result.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
        );
      }
    }
    expect(await refusal(put())).to.include({ status: 412 });
  });
});
