/**
 * The staging bucket of large uploads: private, server-side
 * encrypted, its objects and incomplete multipart uploads expired after a day
 * by its lifecycle rule. Plaintext touches storage here and nowhere else, and
 * only until the upload is completed (ingested, then deleted) or aborted.
 * Failures are 502 `storage_error` naming no bucket; a missing object or
 * upload is `undefined`/false.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpError } from '../core/errors.js';

export interface StagingStoreOptions {
  client: S3Client;
  bucket: string;
  /**
   * The client that signs part URLs, when the browser or CLI reaches S3 at
   * another address than the API does. @default `client`
   */
  presignClient?: S3Client;
}

export type StagingStore = ReturnType<typeof createStagingStore>;

/** What a claim of an upload is for. */
export type UploadAction = 'complete' | 'abort';

/** Where the claims of uploads live, beside the staged objects (the lifecycle rule expires both). */
const CLAIMS_PREFIX = 'claims/';

export function createStagingStore({ client, bucket, presignClient = client }: StagingStoreOptions) {
  async function call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw new HttpError('storage_error', 'Staging storage is unavailable; try again', { cause: error });
    }
  }

  return {
    /** Starts a multipart upload of `objectKey`; returns S3's upload id. */
    async create(objectKey: string): Promise<string> {
      const response = await call(() =>
        client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: objectKey,
            ContentType: 'application/octet-stream',
            ServerSideEncryption: 'AES256',
          }),
        ),
      );
      if (!response.UploadId) throw new HttpError('storage_error', 'Staging storage gave no upload id');
      return response.UploadId;
    },

    /**
     * Presigned `UploadPart` URLs for parts 1..n of the given sizes, valid
     * `expiresIn` seconds. Each signs its part's `Content-Length`, so S3 (and
     * the local part door) refuses a part of any other size.
     */
    partUrls(objectKey: string, uploadId: string, partSizes: readonly number[], expiresIn: number): Promise<string[]> {
      return call(() =>
        Promise.all(
          partSizes.map((size, i) =>
            getSignedUrl(
              presignClient,
              new UploadPartCommand({
                Bucket: bucket,
                Key: objectKey,
                UploadId: uploadId,
                PartNumber: i + 1,
                ContentLength: size,
              }),
              { expiresIn },
            ),
          ),
        ),
      );
    },

    /**
     * Claims the upload of `objectKey` for one `action`, across processes: a
     * create-only write (`If-None-Match: *`) of a small marker, so of any
     * number of concurrent completes and aborts, in any Lambda containers,
     * exactly one wins (S3 answers the others 412, or 409 while the winner's
     * write is in flight: "How to prevent object overwrites with conditional
     * writes", Amazon S3 User Guide). Returns the winning action.
     */
    async claim(objectKey: string, action: UploadAction): Promise<{ won: boolean; action: UploadAction | undefined }> {
      const claimKey = `${CLAIMS_PREFIX}${objectKey}`;
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: claimKey,
            Body: action,
            ContentType: 'text/plain',
            IfNoneMatch: '*',
            ServerSideEncryption: 'AES256',
          }),
        );
        return { won: true, action };
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 409) return { won: false, action: undefined };
        if (status !== 412) {
          throw new HttpError('storage_error', 'Staging storage is unavailable; try again', { cause: error });
        }
      }
      const held = await call(async () => {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: claimKey }));
        return (await response.Body?.transformToString()) ?? '';
      }).catch(() => '');
      return { won: false, action: held === 'complete' || held === 'abort' ? held : undefined };
    },

    /** Gives a claim up (its action failed before changing anything), so the upload can be tried again. */
    async release(objectKey: string): Promise<void> {
      await call(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${CLAIMS_PREFIX}${objectKey}` })));
    },

    /** Joins the parts; false when S3 refuses them (a missing part, a wrong ETag, no such upload). */
    async complete(objectKey: string, uploadId: string, parts: { partNumber: number; etag: string }[]) {
      try {
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: objectKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
          }),
        );
        return true;
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== undefined && status >= 400 && status < 500) return false;
        throw new HttpError('storage_error', 'Staging storage is unavailable; try again', { cause: error });
      }
    },

    /**
     * Aborts the upload: its parts are gone. s3rver has no AbortMultipartUpload
     * (405): there the upload is completed with what it holds (an empty part
     * if none) and the result deleted, which leaves nothing behind either.
     */
    async abort(objectKey: string, uploadId: string): Promise<void> {
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }));
        return;
      } catch (error) {
        const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.$metadata?.httpStatusCode === 404 || e.name === 'NoSuchUpload') return;
        if (e.$metadata?.httpStatusCode !== 405) {
          throw new HttpError('storage_error', 'Staging storage is unavailable; try again', { cause: error });
        }
      }
      await call(async () => {
        const part = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, PartNumber: 1, Body: '' }),
        );
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: objectKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          }),
        );
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey }));
      });
    },

    /** The staged object's size, or undefined. */
    async head(objectKey: string): Promise<number | undefined> {
      try {
        const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }));
        return response.ContentLength ?? 0;
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404 || status === 403) return undefined;
        throw new HttpError('storage_error', 'Staging storage is unavailable; try again', { cause: error });
      }
    },

    async stream(objectKey: string): Promise<Readable> {
      const response = await call(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey })));
      if (!response.Body) throw new HttpError('storage_error', 'The staged upload is missing from storage');
      return response.Body as Readable;
    },

    async delete(objectKey: string): Promise<void> {
      await call(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey })));
    },
  };
}
