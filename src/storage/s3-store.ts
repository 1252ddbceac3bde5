/**
 * Originals and derivatives in S3: the bound stores over the operations of
 * s3-originals.ts and s3-derivatives.ts (and the shared reads of s3-objects.ts).
 *
 * Truthful by construction: only a READ may turn S3's 403/404 into "missing"
 * (`undefined`), because S3 answers 403 rather than 404 for a missing key when
 * the caller may not list the bucket. A refused
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
import type { EnvelopeMetadata } from '../core/envelope.js';
import type { CallOptions } from './s3-calls.js';
import {
  deleteDerivative,
  deleteDerivatives,
  getDerivative,
  listDerivatives,
  type PutDerivativeOptions,
  putDerivative,
} from './s3-derivatives.js';
import type { S3Context, S3StoreOptions } from './s3-objects.js';
import {
  copyOriginal,
  deleteOriginal,
  getOriginal,
  getOriginalStream,
  headOriginal,
  listOriginals,
  type MetadataPatch,
  putOriginal,
  updateOriginalMetadata,
} from './s3-originals.js';

export type { CallOptions } from './s3-calls.js';
export * from './s3-derivatives.js';
export * from './s3-objects.js';
export * from './s3-originals.js';

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
    getOriginalStream: (key: string, range?: { start: number; end: number }, o?: CallOptions) =>
      getOriginalStream(ctx, key, range, o),
    headOriginal: (key: string, o?: CallOptions) => headOriginal(ctx, key, o),
    getDerivative: (derivativeKey: string, o?: CallOptions) => getDerivative(ctx, derivativeKey, o),
    putDerivative: (
      derivativeKey: string,
      body: Buffer,
      contentType: string,
      cacheControl: string,
      o?: PutDerivativeOptions,
    ) => putDerivative(ctx, derivativeKey, body, contentType, cacheControl, o),
    // A render that finds its original changed after storing removes what it stored (no stale derivative).
    deleteDerivative: (derivativeKey: string, o?: CallOptions) => deleteDerivative(ctx, derivativeKey, o),
  };
}

export type EdgeStore = ReturnType<typeof createEdgeStore>;
