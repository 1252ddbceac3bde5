/**
 * Staged multipart uploads (CONTRACT.md §7) in the private staging bucket: the
 * API creates a multipart upload, hands out presigned part URLs that a browser
 * or the CLI PUTs to directly (function URLs take 6 MB at most), completes or
 * aborts it, then streams the staged bytes into the ingest and deletes them.
 *
 * Its own module, so that only the API bundle carries the presigner and the
 * multipart commands. Errors follow s3-store.ts: a read of a missing object is
 * `undefined`, every failed write (403 included) is a 502 `storage_error`.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpError } from '../core/errors.js';
import type { CallOptions } from './s3-store.js';

export interface StagingStoreOptions {
  client: S3Client;
  stagingBucket: string;
}

export interface StagedPart {
  partNumber: number;
  etag: string;
}

export interface StagedObject {
  stream: Readable;
  /** Bytes of the staged object, known before the body is read. */
  length: number;
  metadata: Record<string, string>;
}

/** S3's bounds on a multipart upload's parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export function createStagingStore({ client, stagingBucket: Bucket }: StagingStoreOptions) {
  return {
    /** Starts a multipart upload of `key`; returns its upload id. */
    async create(key: string, options: CallOptions & { metadata?: Record<string, string> } = {}): Promise<string> {
      const response = await write(
        (abortSignal) =>
          client.send(
            new CreateMultipartUploadCommand({
              Bucket,
              Key: key,
              ContentType: 'application/octet-stream',
              Metadata: options.metadata,
            }),
            { abortSignal },
          ),
        options,
      );
      if (!response.UploadId) throw new HttpError('storage_error', 'Storage is unavailable; try again');
      return response.UploadId;
    },

    /** A URL that accepts one `PUT` of part `partNumber` for `expiresInSeconds`; its answer's `ETag` names the part. */
    presignPart(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string> {
      return getSignedUrl(
        client,
        new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: partNumber }),
        { expiresIn: expiresInSeconds },
      );
    },

    /** The parts uploaded so far (for resuming, and to check what a client claims). */
    async listParts(key: string, uploadId: string, options: CallOptions = {}): Promise<StagedPart[]> {
      const parts: StagedPart[] = [];
      let marker: string | undefined;
      do {
        const page = await write(
          (abortSignal) =>
            client.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }), {
              abortSignal,
            }),
          options,
        );
        for (const part of page.Parts ?? []) {
          if (part.PartNumber && part.ETag) parts.push({ partNumber: part.PartNumber, etag: part.ETag });
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
      return parts;
    },

    /** Joins the parts into one staged object; a refused or failed complete throws. */
    async complete(key: string, uploadId: string, parts: StagedPart[], options: CallOptions = {}): Promise<void> {
      const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
      await write(
        (abortSignal) =>
          client.send(
            new CompleteMultipartUploadCommand({
              Bucket,
              Key: key,
              UploadId: uploadId,
              MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
            }),
            { abortSignal },
          ),
        options,
      );
    },

    /** Aborts the upload and drops its parts. */
    async abort(key: string, uploadId: string, options: CallOptions = {}): Promise<void> {
      await write(
        (abortSignal) =>
          client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }), { abortSignal }),
        options,
      );
    },

    /** The completed staged object as a stream, its length first; undefined when missing. */
    async open(key: string, options: CallOptions = {}): Promise<StagedObject | undefined> {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket, Key: key }), {
          abortSignal: options.signal,
        });
        if (!response.Body) return undefined;
        return {
          stream: response.Body as Readable,
          length: response.ContentLength ?? 0,
          metadata: response.Metadata ?? {},
        };
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if ((status === 404 || status === 403) && !options.signal?.aborted) return undefined;
        throw failure(error, options.signal);
      }
    },

    /** Deletes the staged object (after ingest, or a refused image). */
    async delete(key: string, options: CallOptions = {}): Promise<void> {
      await write(
        (abortSignal) => client.send(new DeleteObjectCommand({ Bucket, Key: key }), { abortSignal }),
        options,
      );
    },
  };
}

export type StagingStore = ReturnType<typeof createStagingStore>;

async function write<T>(send: (signal?: AbortSignal) => Promise<T>, options: CallOptions): Promise<T> {
  try {
    return await send(options.signal);
  } catch (error) {
    throw failure(error, options.signal);
  }
}

function failure(error: unknown, signal: AbortSignal | undefined): HttpError {
  if (signal?.aborted && signal.reason instanceof HttpError) return signal.reason;
  if (error instanceof HttpError) return error;
  return new HttpError('storage_error', 'Storage is unavailable; try again', { cause: error });
}
