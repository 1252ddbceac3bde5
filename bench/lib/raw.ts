/**
 * The limit of row 1: the work no design of the miss path can avoid, done with
 * nothing but the AWS SDK and node:crypto — one GetObject of the encrypted
 * original, its AES-256-GCM decryption (data key unwrapped first), one
 * PutObject of the derivative's bytes, one GetObject that answers 404 — so the
 * product's own code (src/storage, src/core/envelope) is measured against it,
 * not with it.
 */
import { createDecipheriv } from 'node:crypto';
import { Agent } from 'node:http';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** A plain SDK client for an S3-compatible endpoint, kept-alive as any sane deployment would. */
export function rawS3Client(endpoint: string): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** GetObject, the body read into one buffer sized by Content-Length (one copy of each chunk, no more). */
export async function rawGet(client: S3Client, bucket: string, key: string) {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const stream = response.Body as AsyncIterable<Uint8Array>;
  const length = response.ContentLength;
  let body: Buffer;
  if (length !== undefined) {
    body = Buffer.allocUnsafe(length);
    let offset = 0;
    for await (const chunk of stream) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
    if (offset !== length) throw new Error(`short body for ${key}: ${offset} of ${length}`);
  } else {
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    body = Buffer.concat(chunks);
  }
  return { body, metadata: response.Metadata ?? {} };
}

export async function rawPut(client: S3Client, bucket: string, key: string, body: Buffer, contentType: string) {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

/** GetObject of a key that does not exist: resolves when S3 answers 404, throws otherwise. */
export async function raw404(client: S3Client, bucket: string, key: string) {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return;
    throw error;
  }
  throw new Error(`expected a 404 for ${key}`);
}

/** Every object of a bucket with its size (the bench's buckets are small). */
export async function rawList(client: S3Client, bucket: string): Promise<{ key: string; size: number }[]> {
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const item of page.Contents ?? []) if (item.Key) keys.push({ key: item.Key, size: item.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * AES-256-GCM envelope decryption (the S3 Encryption Client v2 metadata the
 * originals carry): unwrap the data key with the master key, then decrypt and
 * authenticate the body (`ciphertext || tag`).
 */
export function rawDecrypt(body: Buffer, metadata: Record<string, string>, masterKey: Buffer): Buffer {
  const wrapped = Buffer.from(metadata['x-amz-key-v2'] ?? '', 'base64');
  const unwrap = createDecipheriv('aes-256-gcm', masterKey, wrapped.subarray(0, 12));
  unwrap.setAAD(Buffer.from(metadata['x-amz-cek-alg'] ?? ''));
  unwrap.setAuthTag(wrapped.subarray(12 + 32));
  const dataKey = Buffer.concat([unwrap.update(wrapped.subarray(12, 12 + 32)), unwrap.final()]);
  const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(metadata['x-amz-iv'] ?? '', 'base64'));
  decipher.setAuthTag(body.subarray(body.length - 16));
  const plaintext = decipher.update(body.subarray(0, body.length - 16));
  decipher.final();
  return plaintext;
}
