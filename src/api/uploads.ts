/**
 * Uploads, replacements and deletions of originals, and
 * why none of them can leave half a state behind.
 *
 * LAYOUT of the originals bucket
 *   _versions/<key>/<id>  one immutable object per version, written once and never
 *                         overwritten (`<id>` is fresh per upload). Keys starting
 *                         with `_` are reserved: no image key can collide.
 *   <key>                 a server-side copy of the latest version, because the edge
 *                         reads `<key>` and nothing else (no DynamoDB lookup). It
 *                         carries `resizer-object: _versions/<key>/<id>` in its
 *                         metadata, so we can tell which version it holds.
 * Each version's metadata item names its object (`objectKey`). The table is the
 * truth and `<key>` is derived from it. The layout works the same on s3rver (no
 * versioning) and on the deployed, versioned bucket, whose noncurrent versions
 * are then only a safety net. What it costs: the latest version is stored twice.
 *
 * WRITE ORDER of a version (POST, PUT)
 *   1. Check everything that needs no storage: key, X-Meta-*, size, the type
 *      sniffed from the bytes, a full decode (the thumbhash render). A failure
 *      here has written nothing.
 *   2. Put the encrypted bytes at `_versions/<key>/<id>`. Nothing points at the
 *      object yet, so nobody sees it. If this fails: 502, nothing to undo.
 *   3. Put the item (key, n+1) on condition `attribute_not_exists`: the commit
 *      point. If a concurrent upload took n+1, re-read the latest and try n+2
 *      (the object's name holds no version, so it is not rewritten). If the put
 *      fails: delete the object of step 2, then 502 `storage_error`.
 *   4. Promote: copy the latest item's object to `<key>`, then re-read the
 *      latest and copy again until `<key>` holds it (a slower concurrent upload
 *      may have copied an older version over ours). If this fails: roll back,
 *      meaning delete our item, promote again (so `<key>` holds the previous
 *      version, or nothing for a new key), and delete our object; then 502.
 *   5. PUT only: purge the key's derivatives, then invalidate `/<key>*`. This
 *      comes after step 4, so no derivative of the old bytes is rendered after
 *      the purge. A render already in flight during the replace (it read the
 *      old bytes before step 4 and stores after step 5) needs no second purge:
 *      it HEADs the original after storing and renders again or removes what
 *      it stored, and the edge serves a stored derivative only while it
 *      records the original's current revision (`renderDerivative` in
 *      core/render.ts has the argument). The purge frees the bucket and
 *      CloudFront's cache. If it fails the version stays committed and served,
 *      and we answer 502 naming `edge-resizer purge`: derivatives CloudFront
 *      already cached are kept for a year.
 *
 * RECOVERY when the process dies between steps
 *   - after 2: an orphan object under `_versions/<key>/`. Nothing serves or lists
 *     it, and the key's DELETE removes it with the others.
 *   - after 3: the item is committed but `<key>` still holds the previous
 *     version (or nothing): the API shows n+1 and the edge serves n. The next PUT
 *     or DELETE of the key runs the promotion (`promoteLatest`), which copies
 *     whatever the latest item names, and so do the rollbacks of step 4.
 *   - after 4: old derivatives may remain in the bucket (never served from
 *     it: their revision is not the original's) and in CloudFront's cache.
 *     The next PUT purges them, and so does `edge-resizer purge <key>`.
 *   A rollback that itself fails leaves one of these same states.
 *
 * DELETE ORDER: `<key>` first (the edge can no longer render), then derivatives
 * and the invalidation, then the `_versions/<key>/` objects, and the items
 * last. A crash leaves items behind, so the key still shows in the API and a
 * repeated DELETE finishes the job. The answer is 404 only when no item, no
 * `<key>` and no version object is left.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EdgeResizerConfig } from '../core/config.js';
import { createEncryptStream, encryptBuffer, TAG_BYTES } from '../core/envelope.js';
import { busyError, HttpError } from '../core/errors.js';
import { FOCAL_POINT_META, formatFocalPoint } from '../core/focal-point.js';
import { describeError, type Logger } from '../core/log.js';
import type { FocalPoint } from '../core/params.js';
import { computeThumbHash } from '../core/thumbhash.js';
import { type ImageInfo, inspectImage } from '../core/transform.js';
import type { MasterKeyProvider } from '../storage/master-key.js';
import type { ImageVersion, MetadataStore } from '../storage/metadata-store.js';
import type { S3Store } from '../storage/s3-store.js';
import type { KeyLock } from './key-lock.js';

/** Where every version's immutable object lives. */
export const VERSIONS_PREFIX = '_versions/';
/** Object metadata naming the `_versions/` object a `<key>` copy was made from. */
export const OBJECT_META = 'resizer-object';
/** The file extension of a new key, by sniffed format. */
export const EXTENSIONS: Readonly<Record<string, string>> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tif',
  avif: 'avif',
};

/**
 * Concurrent uploads of one key (from other processes: this one queues them)
 * each take the next version; past this many lost races, with a jittered
 * back-off between them, the upload is refused as 503 `busy`.
 */
const MAX_VERSION_ATTEMPTS = 10;
const VERSION_BACKOFF_MS = 20;
/** Rounds of "copy the latest, check it is still the latest" before we leave it to the next write. */
const MAX_PROMOTE_ROUNDS = 5;

export interface UploadDeps {
  config: EdgeResizerConfig;
  store: S3Store;
  metadata: MetadataStore;
  masterKey: MasterKeyProvider;
  invalidate?: (key: string) => Promise<void>;
  logger: Logger;
  /** Serializes the writes of one key in this process. */
  keyLock: KeyLock;
}

/** An upload checked and described, not yet stored. */
export interface PreparedUpload {
  /** The bytes, held whole (single-request uploads)… */
  plaintext?: Buffer;
  /** …or in a file, read as a stream when stored (staged uploads). */
  file?: string;
  bytes: number;
  info: ImageInfo;
  sha256: string;
  thumbhash: string;
  meta: Record<string, string>;
  /** From `X-Focal-Point`. */
  focalPoint?: FocalPoint;
}

export function versionObjectKey(key: string, id: string): string {
  return `${VERSIONS_PREFIX}${key}/${id}`;
}

/** 12 characters of a-z0-9 (62 bits): short in a URL, collisions left to the conditional put. */
export function newImageId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  // 252 is the largest multiple of 36 under 256: rejecting above it keeps every character equally likely.
  let id = '';
  while (id.length < 12) {
    for (const byte of randomBytes(16)) {
      if (byte < 252 && id.length < 12) id += alphabet[byte % 36];
    }
  }
  return id;
}

/** Step 1: sniff, bound, decode. Throws 413/415/422 and stores nothing. */
export async function prepareUpload(
  plaintext: Buffer,
  meta: Record<string, string>,
  config: EdgeResizerConfig,
  focalPoint?: FocalPoint,
): Promise<PreparedUpload> {
  const info = await inspectImage(plaintext, config);
  const thumbhash = await computeThumbHash(plaintext, config);
  const sha256 = createHash('sha256').update(plaintext).digest('hex');
  return { plaintext, bytes: plaintext.length, info, sha256, thumbhash, meta, ...(focalPoint ? { focalPoint } : {}) };
}

/**
 * Step 1 for bytes in a file (a staged upload): the header and a shrink-on-load
 * decode read the file, so memory is bounded whatever its size. `sha256` was
 * computed as the file was written.
 */
export async function prepareFileUpload(
  file: { path: string; bytes: number; sha256: string },
  meta: Record<string, string>,
  config: EdgeResizerConfig,
  focalPoint?: FocalPoint,
): Promise<PreparedUpload> {
  const info = await inspectImage({ file: file.path, bytes: file.bytes }, config);
  const thumbhash = await computeThumbHash(file.path, config);
  return {
    file: file.path,
    bytes: file.bytes,
    info,
    sha256: file.sha256,
    thumbhash,
    meta,
    ...(focalPoint ? { focalPoint } : {}),
  };
}

export interface SavedVersion {
  item: ImageVersion;
  /** True for version 1. */
  created: boolean;
}

/**
 * Steps 2–5 for `key`. With `onlyIfNew`, returns undefined instead of taking
 * version 2 when the key exists (a POST whose fresh id collided). The derivatives
 * are purged unless `onlyIfNew`: a new random key has none.
 */
export async function saveVersion(
  deps: UploadDeps,
  key: string,
  upload: PreparedUpload,
  options: { onlyIfNew?: boolean } = {},
): Promise<SavedVersion | undefined> {
  const { store, logger } = deps;
  const objectKey = versionObjectKey(key, newImageId());
  const focal: Record<string, string> = upload.focalPoint
    ? { [FOCAL_POINT_META]: formatFocalPoint(upload.focalPoint) }
    : {};
  const masterKey = await deps.masterKey();
  // Outside the key's queue: concurrent uploads encrypt and store in parallel, and only commit in turn.
  // The promotion's copy carries the metadata to `<key>`, where the edge reads the focal point.
  if (upload.plaintext) {
    const { body, metadata: envelope } = encryptBuffer(upload.plaintext, masterKey);
    await store.putOriginal(objectKey, body, { ...envelope, [OBJECT_META]: objectKey, ...focal }, body.length);
  } else if (upload.file) {
    // Encrypted as it is read and sent: the file is never held whole.
    const { metadata: envelope, stream } = createEncryptStream(masterKey, upload.bytes);
    const source = createReadStream(upload.file);
    source.on('error', (error) => stream.destroy(error));
    source.pipe(stream);
    await store.putOriginal(
      objectKey,
      stream,
      { ...envelope, [OBJECT_META]: objectKey, ...focal },
      upload.bytes + TAG_BYTES,
    );
  } else {
    throw new Error('An upload has neither bytes nor a file');
  }
  try {
    return await deps.keyLock.run(key, () => commitVersion(deps, key, upload, objectKey, options));
  } catch (error) {
    // Refused before its commit (busy while queued): the object it stored is nobody's.
    if (error instanceof HttpError && error.code === 'busy') {
      await undo(`delete ${objectKey}`, () => store.deleteOriginal(objectKey), logger);
    }
    throw error;
  }
}

/** Steps 3–5, the key's writes queued behind each other. */
async function commitVersion(
  deps: UploadDeps,
  key: string,
  upload: PreparedUpload,
  objectKey: string,
  options: { onlyIfNew?: boolean },
): Promise<SavedVersion | undefined> {
  const { store, metadata, logger } = deps;
  let item: ImageVersion | undefined;
  try {
    for (let attempt = 0; attempt < MAX_VERSION_ATTEMPTS && !item; attempt += 1) {
      if (attempt > 0) await sleep(Math.random() * VERSION_BACKOFF_MS * 2 ** Math.min(attempt, 5));
      const latest = options.onlyIfNew ? undefined : await metadata.latest(key);
      const candidate: ImageVersion = {
        key,
        version: (latest?.version ?? 0) + 1,
        contentType: upload.info.contentType,
        width: upload.info.width,
        height: upload.info.height,
        bytes: upload.bytes,
        sha256: upload.sha256,
        created: new Date().toISOString(),
        thumbhash: upload.thumbhash,
        meta: upload.meta,
        ...(upload.focalPoint ? { focalPoint: upload.focalPoint } : {}),
        objectKey,
      };
      if (await metadata.putVersion(candidate)) item = candidate;
      else if (options.onlyIfNew) break;
    }
  } catch (error) {
    await undo(`delete ${objectKey}`, () => store.deleteOriginal(objectKey), logger);
    throw error;
  }
  if (!item) {
    await undo(`delete ${objectKey}`, () => store.deleteOriginal(objectKey), logger);
    if (options.onlyIfNew) return undefined;
    throw busyError('Other uploads are replacing this image right now; try again');
  }

  try {
    await promoteLatest(deps, key);
  } catch (error) {
    const committed = item;
    await undo(
      `roll back ${key} v${committed.version}`,
      async () => {
        await metadata.deleteVersion(key, committed.version);
        await promoteLatest(deps, key);
        await store.deleteOriginal(objectKey);
      },
      logger,
    );
    throw storageError(error);
  }

  if (!options.onlyIfNew) {
    try {
      await purgeDerivatives(deps, key);
    } catch (error) {
      logger.error('purging derivatives after a replace failed', { key, ...describeError(error) });
      throw new HttpError(
        'storage_error',
        `Version ${item.version} of ${key} is stored, but its old derivatives could not be purged: run \`edge-resizer purge ${key}\``,
        { cause: error },
      );
    }
  }
  return { item, created: item.version === 1 };
}

/**
 * Makes `<key>` hold the latest version's object (or removes it when the key
 * has no version left). Idempotent: the repair for every interrupted write.
 */
export async function promoteLatest(
  deps: Pick<UploadDeps, 'store' | 'metadata' | 'logger'>,
  key: string,
): Promise<void> {
  const { store, metadata } = deps;
  for (let round = 0; round < MAX_PROMOTE_ROUNDS; round += 1) {
    const [latest, current] = await Promise.all([metadata.latest(key), store.headOriginal(key)]);
    if (!latest) {
      if (current) await store.deleteOriginal(key);
      return;
    }
    if (current?.metadata[OBJECT_META] === latest.objectKey) return;
    if (!(await store.copyOriginal(latest.objectKey, key))) {
      throw new HttpError('storage_error', 'The latest version of this image is missing from storage');
    }
  }
  // Still racing after several rounds: the last writer's own promotion settles it.
  deps.logger.warn('promotion did not settle; a concurrent write will finish it', { key });
}

/** Deletes every derivative of `key` and invalidates `/<key>*`; returns how many were deleted. */
export async function purgeDerivatives(deps: Pick<UploadDeps, 'store' | 'invalidate'>, key: string): Promise<number> {
  const deleted = await deps.store.deleteDerivatives(key);
  await deps.invalidate?.(key);
  return deleted;
}

/** Removes the original, its derivatives, its versions and its items. False when there was nothing. */
export function deleteImage(deps: UploadDeps, key: string): Promise<boolean> {
  return deps.keyLock.run(key, () => removeImage(deps, key));
}

async function removeImage(deps: UploadDeps, key: string): Promise<boolean> {
  const { store, metadata } = deps;
  const [items, current] = await Promise.all([metadata.versions(key), store.headOriginal(key)]);
  // The items' objects, and any orphan of an interrupted upload beside them.
  const objects = new Set(items.map((item) => item.objectKey));
  for await (const page of store.listOriginals(`${VERSIONS_PREFIX}${key}/`)) {
    for (const objectKey of page) objects.add(objectKey);
  }
  if (items.length === 0 && !current && objects.size === 0) return false;

  if (current) await store.deleteOriginal(key);
  await purgeDerivatives(deps, key);
  for (const objectKey of objects) await store.deleteOriginal(objectKey);
  await metadata.deleteKey(key);
  return true;
}

/** The public view of a version: what uploads return and the listing prints. */
export function describeVersion(item: ImageVersion) {
  return {
    key: item.key,
    version: item.version,
    contentType: item.contentType,
    width: item.width,
    height: item.height,
    bytes: item.bytes,
    sha256: item.sha256,
    created: item.created,
    thumbhash: item.thumbhash,
    meta: item.meta,
    focalPoint: item.focalPoint ?? null,
    url: `/${item.key}`,
  };
}

/**
 * `PATCH /api/images/<key>`: sets or clears the latest
 * version's focal point, no new version. Order: the version's object, then
 * `<key>` (copied from it, so the edge reads the new point), then the item,
 * then the purge, so no derivative rendered after the purge used the old
 * point, except one already in flight (the same window as a replace). A
 * failure part way leaves the answer 502 and a repeated PATCH completes it.
 * Undefined when the key has no image.
 */
export function setFocalPoint(
  deps: UploadDeps,
  key: string,
  focalPoint: FocalPoint | null,
): Promise<ImageVersion | undefined> {
  return deps.keyLock.run(key, async () => {
    const { store, metadata } = deps;
    const latest = await metadata.latest(key);
    if (!latest) return undefined;
    const patch = { [FOCAL_POINT_META]: focalPoint ? formatFocalPoint(focalPoint) : null };
    if (!(await store.updateOriginalMetadata(latest.objectKey, patch))) {
      throw new HttpError('storage_error', 'The latest version of this image is missing from storage');
    }
    if (!(await store.copyOriginal(latest.objectKey, key))) {
      throw new HttpError('storage_error', 'The latest version of this image is missing from storage');
    }
    if (!(await metadata.setFocalPoint(key, latest.version, focalPoint))) return undefined;
    await purgeDerivatives(deps, key);
    const { focalPoint: _old, ...rest } = latest;
    return focalPoint ? { ...rest, focalPoint } : rest;
  });
}

/** Best-effort clean-up after a failure: logged, never hiding the original error. */
async function undo(what: string, action: () => Promise<unknown>, logger: Logger): Promise<void> {
  try {
    await action();
  } catch (error) {
    logger.error(`could not ${what}; the next write of the key repairs it`, describeError(error));
  }
}

function storageError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  return new HttpError('storage_error', 'Storage is unavailable; try again', { cause: error });
}
