/**
 * Originals and derivatives in S3. Missing objects come back as `undefined`:
 * the caller decides that means 404. S3 answers 403 rather than 404 for a
 * missing key when the caller may not list the bucket, so both mean "missing".
 * Every other failure, after the SDK's retries, is a 502 `storage_error` whose
 * message names no bucket and carries no AWS error text.
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

export interface S3StoreOptions {
  client: S3Client;
  originalsBucket: string;
  derivativesBucket: string;
}

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
  metadata: Record<string, string>;
}

export type S3Store = ReturnType<typeof createS3Store>;

/** Per call: `signal` stops the call, its retries included (the miss path's time budget). */
export interface CallOptions {
  signal?: AbortSignal;
}

export function createS3Store({ client, originalsBucket, derivativesBucket }: S3StoreOptions) {
  async function getObject(bucket: string, key: string): Promise<StoredObject | undefined> {
    const response = await call(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    if (!response?.Body) return undefined;
    const body = Buffer.from(await response.Body.transformToByteArray());
    return { body, contentType: response.ContentType, etag: response.ETag, metadata: response.Metadata ?? {} };
  }

  async function getObjectStream(
    bucket: string,
    key: string,
    range?: { start: number; end: number },
    options: CallOptions = {},
  ) {
    const response = await call(() =>
      client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal: options.signal },
      ),
    );
    if (!response?.Body) return undefined;
    const contentLength = response.ContentLength ?? 0;
    const totalFromRange = /\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
    return {
      stream: response.Body as Readable,
      contentLength,
      totalLength: totalFromRange ? Number(totalFromRange) : contentLength,
      metadata: response.Metadata ?? {},
    } satisfies StoredStream;
  }

  /** Keys directly under `prefix` (`/` is the delimiter), one ListObjectsV2 page at a time. */
  async function* listKeys(bucket: string, prefix: string): AsyncGenerator<string[]> {
    let token: string | undefined;
    do {
      const page = await call(() =>
        client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
        ),
      );
      yield (page?.Contents ?? []).flatMap((item) => (item.Key ? [item.Key] : []));
      token = page?.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  return {
    /** The encrypted original and its envelope metadata. */
    getOriginal: (key: string) => getObject(originalsBucket, key),

    /** The encrypted original as a stream, optionally a byte range of the stored object. */
    getOriginalStream: (key: string, range?: { start: number; end: number }, options?: CallOptions) =>
      getObjectStream(originalsBucket, key, range, options),

    /** Size and envelope metadata without the body. */
    async headOriginal(
      key: string,
      options: CallOptions = {},
    ): Promise<{ totalLength: number; metadata: Record<string, string> } | undefined> {
      const response = await call(() =>
        client.send(new HeadObjectCommand({ Bucket: originalsBucket, Key: key }), { abortSignal: options.signal }),
      );
      if (!response) return undefined;
      return { totalLength: response.ContentLength ?? 0, metadata: response.Metadata ?? {} };
    },

    /** Stores an encrypted original; a stream body needs its exact length. */
    async putOriginal(key: string, body: Buffer | Readable, metadata: EnvelopeMetadata, contentLength: number) {
      await call(() =>
        client.send(
          new PutObjectCommand({
            Bucket: originalsBucket,
            Key: key,
            Body: body,
            ContentLength: contentLength,
            ContentType: 'application/octet-stream',
            Metadata: metadata,
          }),
        ),
      );
    },

    async deleteOriginal(key: string) {
      await call(() => client.send(new DeleteObjectCommand({ Bucket: originalsBucket, Key: key })));
    },

    /**
     * Copies an original inside the bucket, server side, metadata included (the
     * API's promotion of a stored version to `<key>`). False when the source is missing.
     */
    async copyOriginal(sourceKey: string, targetKey: string): Promise<boolean> {
      const copySource = `${originalsBucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
      const response = await call(() =>
        client.send(new CopyObjectCommand({ Bucket: originalsBucket, Key: targetKey, CopySource: copySource })),
      );
      return response !== undefined;
    },

    /** Keys of the originals directly under `prefix` (one level: `/` is the delimiter), page by page. */
    listOriginals: (prefix: string) => listKeys(originalsBucket, prefix),

    getDerivative: (derivativeKey: string) => getObject(derivativesBucket, derivativeKey),

    /** `metadata` records the original's revision (see `originalRevision` in core/render.ts). */
    async putDerivative(
      derivativeKey: string,
      body: Buffer,
      contentType: string,
      cacheControl: string,
      options: CallOptions & { metadata?: Record<string, string> } = {},
    ) {
      await call(() =>
        client.send(
          new PutObjectCommand({
            Bucket: derivativesBucket,
            Key: derivativeKey,
            Body: body,
            ContentType: contentType,
            CacheControl: cacheControl,
            Metadata: options.metadata,
          }),
          { abortSignal: options.signal },
        ),
      );
    },

    /** Deletes one derivative; nothing to do when it is gone. */
    async deleteDerivative(derivativeKey: string, options: CallOptions = {}) {
      await call(() =>
        client.send(new DeleteObjectCommand({ Bucket: derivativesBucket, Key: derivativeKey }), {
          abortSignal: options.signal,
        }),
      );
    },

    /**
     * Deletes every derivative of `key`, page by page; returns how many. Only
     * objects directly under `<key>/`: those further down belong to other keys
     * (`a.jpg/b.jpg` is a key of its own, with derivatives under `a.jpg/b.jpg/`).
     */
    async deleteDerivatives(key: string): Promise<number> {
      let deleted = 0;
      for await (const keys of listKeys(derivativesBucket, derivativePrefix(key))) {
        if (keys.length === 0) continue;
        const objects = keys.map((Key) => ({ Key }));
        await call(() =>
          client.send(
            new DeleteObjectsCommand({ Bucket: derivativesBucket, Delete: { Objects: objects, Quiet: true } }),
          ),
        );
        deleted += objects.length;
      }
      return deleted;
    },
  };
}

/** Runs an S3 call: missing → undefined, other failures → `storage_error`. */
async function call<T>(send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new HttpError('storage_error', 'Storage is unavailable; try again', { cause: error });
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return status === 404 || status === 403 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}
