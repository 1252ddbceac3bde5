/**
 * Every object of the originals bucket (the `<key>` copies and the
 * `_versions/…` objects alike), in the bucket's key order, page by page, from
 * after a given stored key: what a master-key rotation walks and resumes.
 * `StartAfter` rather than continuation tokens, so a run that stopped can
 * start again from the last stored key it finished, on S3 and on s3rver alike.
 */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { HttpError } from '../core/errors.js';
import { IDENTITY_KEY_CODEC } from './key-codec.js';
import type { S3Store } from './s3-store.js';

export interface OriginalObject {
  /** The key as stored (what `StartAfter` takes). */
  stored: string;
  /** The key as the store's calls take it. */
  key: string;
}

/** Pages of at most `pageSize` objects after `startAfter` (a stored key; '' from the start). */
export async function* originalObjects(
  store: Pick<S3Store, 'context'>,
  startAfter = '',
  pageSize = 1000,
): AsyncGenerator<OriginalObject[]> {
  const { client, originalsBucket, keyCodec = IDENTITY_KEY_CODEC } = store.context;
  let after = startAfter;
  for (;;) {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({ Bucket: originalsBucket, StartAfter: after || undefined, MaxKeys: pageSize }),
      );
    } catch (error) {
      throw new HttpError('storage_error', 'Listing the originals failed; try again', { cause: error });
    }
    const stored = (page.Contents ?? []).flatMap((item) => (item.Key ? [item.Key] : []));
    // s3rver lists a long key's `~/` continuation pieces as one object: they decode to one key.
    if (stored.length > 0) yield stored.map((key) => ({ stored: key, key: keyCodec.decode(key) }));
    if (!page.IsTruncated || stored.length === 0) return;
    after = stored[stored.length - 1] ?? after;
  }
}
