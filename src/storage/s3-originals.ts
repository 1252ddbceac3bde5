/**
 * Encrypted originals in S3: read (whole, opened, streamed, headers), stored,
 * deleted, copied server side, and their user metadata patched in place.
 */

import type { Readable } from 'node:stream';
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { EnvelopeMetadata } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';
import { type CallOptions, copySource, encode, isNoSuchKey, write } from './s3-calls.js';
import { getObject, getObjectStream, headObject, listKeys, type S3Context } from './s3-objects.js';

/** Metadata to set (a string) or remove (`null`); names are lower-case. */
export type MetadataPatch = Record<string, string | null>;

/** The encrypted original and its envelope metadata; undefined when missing. */
export const getOriginal = (ctx: S3Context, key: string, options?: CallOptions) =>
  getObject(ctx, ctx.originalsBucket, key, options);

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
 * (`focal-point: x,y`). Returns the new metadata, or undefined
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
