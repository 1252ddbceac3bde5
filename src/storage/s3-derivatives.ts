/**
 * Derivatives in S3: read, stored (a refused or failed PUT is an error, never
 * a success), and deleted one by one or all of an original's at once.
 */

import { DeleteObjectCommand, DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { HttpError } from '../core/errors.js';
import { derivativePrefix } from '../core/keys.js';
import { type CallOptions, encode, write } from './s3-calls.js';
import { getObject, listKeys, type S3Context } from './s3-objects.js';

export interface PutDerivativeOptions extends CallOptions {
  /** User metadata stored with the derivative (for example the original's ETag); `getDerivative` returns it. */
  metadata?: Record<string, string>;
}

/** DeleteObjects takes at most 1,000 keys per request. */
export const DELETE_BATCH = 1000;

/** A derivative with its content type, ETag and the metadata it was stored with; undefined when missing. */
export const getDerivative = (ctx: S3Context, derivativeKey: string, options?: CallOptions) =>
  getObject(ctx, ctx.derivativesBucket, derivativeKey, options);

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
