/**
 * Originals and derivatives in S3.
 *
 * Truthful by construction (CONTRACT.md §4, issue 12): only a READ may turn
 * S3's 403/404 into "missing" (`undefined`), because S3 answers 403 rather than
 * 404 for a missing key when the caller may not list the bucket. A refused
 * PUT, copy or delete is a 502 `storage_error`, and so is a batch delete with
 * any per-key `Errors`. Every failure, after the SDK's retries, is a
 * `storage_error` whose message names no bucket and carries no AWS error text.
 *
 * Every call takes `CallOptions`: an `AbortSignal` that ends the call, its
 * retries and the backoff between them, so a caller with a time budget (the
 * miss path) bounds the store's retries by the time it has left. When the
 * signal's reason is an `HttpError` (for example `busy`), that error is thrown.
 *
 * The operations are standalone functions over an `S3Context`, so a bundle
 * that uses only some of them (the edge: Get/Head/Put) carries only those;
 * `createS3Store` binds them all for the API and the local CDN.
 */

import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { EnvelopeMetadata } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';
import { derivativePrefix } from '../core/keys.js';
import { IDENTITY_KEY_CODEC, type KeyCodec } from './key-codec.js';
import {
  type CallOptions,
  copySource,
  encode,
  isNoSuchKey,
  raceSignal,
  read,
  storageFailure,
  write,
} from './s3-calls.js';

export type { CallOptions } from './s3-calls.js';

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
  /** The same as `length` (older name). */
  totalLength: number;
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

/** Metadata to set (a string) or remove (`null`); names are lower-case. */
export type MetadataPatch = Record<string, string | null>;

export interface PutDerivativeOptions extends CallOptions {
  /** User metadata stored with the derivative (for example the original's ETag); `getDerivative` returns it. */
  metadata?: Record<string, string>;
}

/** DeleteObjects takes at most 1,000 keys per request. */
export const DELETE_BATCH = 1000;

// ---------------------------------------------------------------- reads

async function getObject(
  ctx: S3Context,
  bucket: string,
  key: string,
  options: CallOptions = {},
): Promise<StoredObject | undefined> {
  const opened = await openObject(ctx, bucket, key, options);
  if (!opened) return undefined;
  return { body: await opened.read(), contentType: opened.contentType, etag: opened.etag, metadata: opened.metadata };
}

async function openObject(
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

async function getObjectStream(
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

async function headObject(
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
    totalLength: length,
    contentType: response.ContentType,
    metadata: response.Metadata ?? {},
  };
}

/**
 * Keys directly under `prefix` (`/` is the delimiter), one page at a time.
 * With a nesting key codec (s3rver's), the listing has no delimiter and the
 * keys one level down are kept, since a long segment's chunks look like levels.
 */
async function* listKeys(
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

// ---------------------------------------------------------------- originals

/** The encrypted original and its envelope metadata; undefined when missing. */
export const getOriginal = (ctx: S3Context, key: string, options?: CallOptions) =>
  getObject(ctx, ctx.originalsBucket, key, options);

/**
 * The original's headers (length, ETag, metadata) with its body still unread:
 * check `length` against a limit, then `read()` or `discard()`.
 */
export const openOriginal = (ctx: S3Context, key: string, options?: CallOptions) =>
  openObject(ctx, ctx.originalsBucket, key, options);

/** The encrypted original as a stream, optionally a byte range of the stored object. */
export const getOriginalStream = (
  ctx: S3Context,
  key: string,
  range?: { start: number; end: number },
  options?: CallOptions,
) => getObjectStream(ctx, ctx.originalsBucket, key, range, options);

/** Length, ETag and metadata without the body; undefined when missing. */
export const headOriginal = (ctx: S3Context, key: string, options?: CallOptions) =>
  headObject(ctx, ctx.originalsBucket, key, options);

/** Stores an encrypted original; a stream body needs its exact length. */
export async function putOriginal(
  ctx: S3Context,
  key: string,
  body: Buffer | Readable,
  metadata: EnvelopeMetadata | Record<string, string>,
  contentLength: number,
  options: CallOptions = {},
): Promise<void> {
  await write(
    (abortSignal) =>
      ctx.client.send(
        new PutObjectCommand({
          Bucket: ctx.originalsBucket,
          Key: encode(ctx, key),
          Body: body,
          ContentLength: contentLength,
          ContentType: 'application/octet-stream',
          Metadata: { ...metadata },
        }),
        { abortSignal },
      ),
    options,
  );
}

/** Deletes an original; deleting a missing key succeeds (S3 answers 204), a refused delete throws. */
export async function deleteOriginal(ctx: S3Context, key: string, options: CallOptions = {}): Promise<void> {
  await write(
    (abortSignal) =>
      ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.originalsBucket, Key: encode(ctx, key) }), { abortSignal }),
    options,
  );
}

/**
 * Copies an original inside the bucket, server side, metadata included (the
 * API's promotion of a stored version to `<key>`). False when the source is
 * missing (S3's `NoSuchKey`); a refused copy (403) throws `storage_error`.
 */
export async function copyOriginal(
  ctx: S3Context,
  sourceKey: string,
  targetKey: string,
  options: CallOptions = {},
): Promise<boolean> {
  try {
    await write(
      (abortSignal) =>
        ctx.client.send(
          new CopyObjectCommand({
            Bucket: ctx.originalsBucket,
            Key: encode(ctx, targetKey),
            CopySource: copySource(ctx, sourceKey),
          }),
          { abortSignal },
        ),
      options,
    );
    return true;
  } catch (error) {
    if (error instanceof HttpError && isNoSuchKey(error.cause)) return false;
    throw error;
  }
}

/**
 * Changes an original's user metadata in place (CopyObject onto itself with
 * `MetadataDirective: REPLACE`): the patch's strings are set, its `null`s
 * removed, everything else (the envelope's `x-amz-*` fields, `resizer-object`)
 * kept, and the content type kept. Used for the focal point
 * (`focal-point: x,y`, CONTRACT.md §6). Returns the new metadata, or undefined
 * when the original is missing. On a versioned bucket this makes a new version.
 */
export async function updateOriginalMetadata(
  ctx: S3Context,
  key: string,
  patch: MetadataPatch,
  options: CallOptions = {},
): Promise<Record<string, string> | undefined> {
  const head = await headOriginal(ctx, key, options);
  if (!head) return undefined;
  const metadata: Record<string, string> = { ...head.metadata };
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete metadata[name.toLowerCase()];
    else metadata[name.toLowerCase()] = value;
  }
  try {
    await write(
      (abortSignal) =>
        ctx.client.send(
          new CopyObjectCommand({
            Bucket: ctx.originalsBucket,
            Key: encode(ctx, key),
            CopySource: copySource(ctx, key),
            // The object copied must be the one whose metadata we patched (S3 answers 412 otherwise).
            CopySourceIfMatch: head.etag,
            MetadataDirective: 'REPLACE',
            Metadata: metadata,
            ContentType: head.contentType ?? 'application/octet-stream',
          }),
          { abortSignal },
        ),
      options,
    );
  } catch (error) {
    if (error instanceof HttpError && isNoSuchKey(error.cause)) return undefined;
    throw error;
  }
  return metadata;
}

/** Keys of the originals directly under `prefix` (one level: `/` is the delimiter), page by page. */
export const listOriginals = (ctx: S3Context, prefix: string, options?: CallOptions) =>
  listKeys(ctx, ctx.originalsBucket, prefix, options);

// ---------------------------------------------------------------- derivatives

/** A derivative with its content type, ETag and the metadata it was stored with; undefined when missing. */
export const getDerivative = (ctx: S3Context, derivativeKey: string, options?: CallOptions) =>
  getObject(ctx, ctx.derivativesBucket, derivativeKey, options);

/** A derivative's headers and metadata without its body; undefined when missing. */
export const headDerivative = (ctx: S3Context, derivativeKey: string, options?: CallOptions) =>
  headObject(ctx, ctx.derivativesBucket, derivativeKey, options);

/** Stores a derivative; a refused or failed PUT throws `storage_error` (never "succeeds"). */
export async function putDerivative(
  ctx: S3Context,
  derivativeKey: string,
  body: Buffer,
  contentType: string,
  cacheControl: string,
  options: PutDerivativeOptions = {},
): Promise<void> {
  await write((abortSignal) => {
    const command = new PutObjectCommand({
      Bucket: ctx.derivativesBucket,
      Key: encode(ctx, derivativeKey),
      Body: body,
      ContentType: contentType,
      CacheControl: cacheControl,
      Metadata: options.metadata,
    });
    command.middlewareStack.add(
      (next) => (args) => {
        delete (args.request as { headers?: Record<string, string> }).headers?.Expect;
        return next(args);
      },
      WITHOUT_EXPECT_CONTINUE,
    );
    return ctx.client.send(command, { abortSignal });
  }, options);
}

/**
 * The SDK sends `Expect: 100-continue` with every body of 2 MB or more, so the
 * body waits a round trip for S3's go-ahead. A derivative is a buffer already
 * in memory that the miss must store before it can answer (its 302): from a
 * regional edge cache that wait is a round trip to us-east-1 on every large
 * miss, to save sending a few MB that S3 almost never refuses.
 */
const WITHOUT_EXPECT_CONTINUE = {
  step: 'build',
  priority: 'low',
  name: 'sendDerivativeBodyAtOnce',
  override: true,
} as const;

/** Keys of the derivatives directly under `prefix` (`/` is the delimiter), page by page. */
export const listDerivatives = (ctx: S3Context, prefix: string, options?: CallOptions) =>
  listKeys(ctx, ctx.derivativesBucket, prefix, options);

/** Deletes one derivative; a refused delete throws. */
export async function deleteDerivative(ctx: S3Context, derivativeKey: string, options: CallOptions = {}) {
  await write(
    (abortSignal) =>
      ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.derivativesBucket, Key: encode(ctx, derivativeKey) }), {
        abortSignal,
      }),
    options,
  );
}

/**
 * Deletes every derivative of `key` at any count: the listing is paged and
 * each page (≤ 1,000 keys) is one DeleteObjects whose per-key `Errors` are
 * checked; any error throws `storage_error` after the rest was tried, so a
 * repeated purge finishes the job. Returns how many were deleted. Only objects
 * directly under `<key>/`: those further down belong to other keys
 * (`a.jpg/b.jpg` is a key of its own, with derivatives under `a.jpg/b.jpg/`).
 */
export async function deleteDerivatives(ctx: S3Context, key: string, options: CallOptions = {}): Promise<number> {
  // Collect first: deleting while paging would move the listing under its own feet.
  const keys: string[] = [];
  for await (const page of listDerivatives(ctx, derivativePrefix(key), options)) keys.push(...page);
  let deleted = 0;
  let failed = 0;
  for (let start = 0; start < keys.length; start += DELETE_BATCH) {
    const objects = keys.slice(start, start + DELETE_BATCH).map((k) => ({ Key: encode(ctx, k) }));
    const result = await write(
      (abortSignal) =>
        ctx.client.send(
          new DeleteObjectsCommand({ Bucket: ctx.derivativesBucket, Delete: { Objects: objects, Quiet: true } }),
          { abortSignal },
        ),
      options,
    );
    const errors = result.Errors?.length ?? 0;
    failed += errors;
    deleted += objects.length - errors;
  }
  if (failed > 0) {
    throw new HttpError('storage_error', `${failed} derivatives could not be deleted; try again`);
  }
  return deleted;
}

// ---------------------------------------------------------------- the bound store

/** Every operation of both buckets: the API and the local CDN use it; the edge uses `createEdgeStore`'s subset. */
export function createS3Store(options: S3StoreOptions) {
  const ctx: S3Context = { ...options };
  return {
    ...createEdgeStore(options),
    context: ctx,
    putOriginal: (
      key: string,
      body: Buffer | Readable,
      metadata: EnvelopeMetadata | Record<string, string>,
      contentLength: number,
      o?: CallOptions,
    ) => putOriginal(ctx, key, body, metadata, contentLength, o),
    deleteOriginal: (key: string, o?: CallOptions) => deleteOriginal(ctx, key, o),
    copyOriginal: (sourceKey: string, targetKey: string, o?: CallOptions) => copyOriginal(ctx, sourceKey, targetKey, o),
    updateOriginalMetadata: (key: string, patch: MetadataPatch, o?: CallOptions) =>
      updateOriginalMetadata(ctx, key, patch, o),
    listOriginals: (prefix: string, o?: CallOptions) => listOriginals(ctx, prefix, o),
    listDerivatives: (prefix: string, o?: CallOptions) => listDerivatives(ctx, prefix, o),
    deleteDerivatives: (key: string, o?: CallOptions) => deleteDerivatives(ctx, key, o),
  };
}

export type S3Store = ReturnType<typeof createS3Store>;

/**
 * What the edge's miss path uses, and nothing else: reads of the original
 * (head, open, get, stream) and of a derivative, the derivative's PUT and the
 * DELETE of a derivative found stale. A bundle built from this factory carries
 * GetObject, HeadObject, PutObject and DeleteObject only.
 */
export function createEdgeStore(options: S3StoreOptions) {
  const ctx: S3Context = { ...options };
  return {
    getOriginal: (key: string, o?: CallOptions) => getOriginal(ctx, key, o),
    openOriginal: (key: string, o?: CallOptions) => openOriginal(ctx, key, o),
    getOriginalStream: (key: string, range?: { start: number; end: number }, o?: CallOptions) =>
      getOriginalStream(ctx, key, range, o),
    headOriginal: (key: string, o?: CallOptions) => headOriginal(ctx, key, o),
    getDerivative: (derivativeKey: string, o?: CallOptions) => getDerivative(ctx, derivativeKey, o),
    headDerivative: (derivativeKey: string, o?: CallOptions) => headDerivative(ctx, derivativeKey, o),
    putDerivative: (
      derivativeKey: string,
      body: Buffer,
      contentType: string,
      cacheControl: string,
      o?: PutDerivativeOptions,
    ) => putDerivative(ctx, derivativeKey, body, contentType, cacheControl, o),
    // A render that finds its original changed after storing removes what it stored (no stale derivative, §6).
    deleteDerivative: (derivativeKey: string, o?: CallOptions) => deleteDerivative(ctx, derivativeKey, o),
  };
}

export type EdgeStore = ReturnType<typeof createEdgeStore>;
