/**
 * The object reads both buckets share (get, open, stream, head, list), over an
 * `S3Context`: a read's 403/404 is "missing" (s3-calls.ts), a listing's never.
 */

import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { HttpError } from '../core/errors.js';
import { IDENTITY_KEY_CODEC, type KeyCodec } from './key-codec.js';
import { type CallOptions, encode, raceSignal, read, storageFailure } from './s3-calls.js';

export interface S3StoreOptions {
  client: S3Client;
  originalsBucket: string;
  derivativesBucket: string;
  /** How keys are spelled in the store; the local wiring passes `S3RVER_KEY_CODEC`. @default identity */
  keyCodec?: KeyCodec;
  /**
   * How listings page: S3's continuation token, or `start-after` the last key
   * (s3rver's tokens need OpenSSL's legacy DES cipher; the local wiring uses it).
   * @default 'token'
   */
  pagination?: 'token' | 'start-after';
}

/** What the operations share. */
export type S3Context = Readonly<S3StoreOptions>;

export interface StoredObject {
  body: Buffer;
  contentType?: string;
  etag?: string;
  metadata: Record<string, string>;
}

export interface StoredStream {
  stream: Readable;
  /** Bytes of this response (the range when one was asked). */
  contentLength: number;
  /** Bytes of the whole stored object. */
  totalLength: number;
  etag?: string;
  metadata: Record<string, string>;
}

export interface StoredHead {
  etag?: string;
  /** Bytes of the stored object. */
  length: number;
  contentType?: string;
  metadata: Record<string, string>;
}

/** An object whose headers have arrived and whose body has not been read yet. */
export interface OpenedObject {
  /** Bytes of the stored object, known before the body is read. */
  length: number;
  etag?: string;
  contentType?: string;
  metadata: Record<string, string>;
  /** Reads the whole body (honouring the signal given to `open…`). */
  read(): Promise<Buffer>;
  /** Drops the body unread (for example when `length` is over a limit). */
  discard(): void;
}

export async function getObject(
  ctx: S3Context,
  bucket: string,
  key: string,
  options: CallOptions = {},
): Promise<StoredObject | undefined> {
  const opened = await openObject(ctx, bucket, key, options);
  if (!opened) return undefined;
  return { body: await opened.read(), contentType: opened.contentType, etag: opened.etag, metadata: opened.metadata };
}

export async function openObject(
  ctx: S3Context,
  bucket: string,
  key: string,
  options: CallOptions = {},
): Promise<OpenedObject | undefined> {
  const response = await read(
    (abortSignal) => ctx.client.send(new GetObjectCommand({ Bucket: bucket, Key: encode(ctx, key) }), { abortSignal }),
    options,
  );
  if (!response?.Body) return undefined;
  const body = response.Body as Readable & { transformToByteArray(): Promise<Uint8Array> };
  return {
    length: response.ContentLength ?? 0,
    etag: response.ETag,
    contentType: response.ContentType,
    metadata: response.Metadata ?? {},
    async read() {
      try {
        return Buffer.from(await raceSignal(body.transformToByteArray(), options.signal));
      } catch (error) {
        body.destroy?.();
        throw storageFailure(error, options.signal);
      }
    },
    discard() {
      body.destroy?.();
    },
  };
}

export async function getObjectStream(
  ctx: S3Context,
  bucket: string,
  key: string,
  range?: { start: number; end: number },
  options: CallOptions = {},
): Promise<StoredStream | undefined> {
  const response = await read(
    (abortSignal) =>
      ctx.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: encode(ctx, key),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal },
      ),
    options,
  );
  if (!response?.Body) return undefined;
  const contentLength = response.ContentLength ?? 0;
  const totalFromRange = /\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
  return {
    stream: response.Body as Readable,
    contentLength,
    totalLength: totalFromRange ? Number(totalFromRange) : contentLength,
    etag: response.ETag,
    metadata: response.Metadata ?? {},
  };
}

export async function headObject(
  ctx: S3Context,
  bucket: string,
  key: string,
  options: CallOptions = {},
): Promise<StoredHead | undefined> {
  const response = await read(
    (abortSignal) => ctx.client.send(new HeadObjectCommand({ Bucket: bucket, Key: encode(ctx, key) }), { abortSignal }),
    options,
  );
  if (!response) return undefined;
  const length = response.ContentLength ?? 0;
  return {
    etag: response.ETag,
    length,
    contentType: response.ContentType,
    metadata: response.Metadata ?? {},
  };
}

/**
 * Keys directly under `prefix` (`/` is the delimiter), one page at a time.
 * With a nesting key codec (s3rver's), the listing has no delimiter and the
 * keys one level down are kept, since a long segment's chunks look like levels.
 */
export async function* listKeys(
  ctx: S3Context,
  bucket: string,
  prefix: string,
  options: CallOptions = {},
): AsyncGenerator<string[]> {
  const codec = ctx.keyCodec ?? IDENTITY_KEY_CODEC;
  const delimiter = codec.nests ? undefined : '/';
  const directlyUnder = (key: string) => !key.slice(prefix.length).includes('/');
  let token: string | undefined;
  let startAfter: string | undefined;
  for (;;) {
    const page = await listPage(ctx, bucket, codec.encode(prefix), delimiter, token, startAfter, options);
    const keys = (page.Contents ?? []).flatMap((item) => (item.Key ? [item.Key] : []));
    const decoded = keys.map((key) => codec.decode(key));
    yield delimiter ? decoded : decoded.filter(directlyUnder);
    if (!page.IsTruncated) break;
    if (ctx.pagination === 'start-after' && keys.length > 0) {
      startAfter = keys[keys.length - 1];
      token = undefined;
    } else {
      token = page.NextContinuationToken;
      startAfter = undefined;
      if (!token) break;
    }
  }
}

async function listPage(
  ctx: S3Context,
  bucket: string,
  prefix: string,
  delimiter: string | undefined,
  token: string | undefined,
  startAfter: string | undefined,
  options: CallOptions,
) {
  const page = await read(
    (abortSignal) =>
      ctx.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
          StartAfter: startAfter,
        }),
        { abortSignal },
      ),
    options,
  );
  // A listing of a bucket we may read never means "missing": no answer is a failure.
  if (!page) throw new HttpError('storage_error', 'Storage is unavailable; try again');
  return page;
}
