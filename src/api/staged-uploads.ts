/**
 * Staged multipart uploads, for originals too large for one
 * API request (a function URL takes 6 MB at most):
 *
 *   POST   /api/uploads                   presigned part URLs into the staging bucket
 *   POST   /api/uploads/<id>/complete     join the parts, check and ingest them as PUT does
 *   DELETE /api/uploads/<id>              abort: nothing kept
 *
 * The upload id is sealed (AES-256-GCM, a key derived from the master key):
 * it carries the staged object, S3's upload id, the target key, metadata and
 * expiry, so no table holds pending uploads and nobody can complete or abort
 * an upload they were not given. Ingest streams: the staged object is copied
 * to a temporary file while it is hashed, checked and sketched (thumbhash)
 * from that file, then encrypted as it is read into the originals bucket, so
 * a 50 MB original is never held whole. The staged object is deleted whether
 * the ingest succeeds or is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpError, invalidParam } from '../core/errors.js';
import { focalPointFromJson } from '../core/focal-point.js';
import { validateImageKey } from '../core/keys.js';
import { checkOriginalBytes } from '../core/limits.js';
import { describeError } from '../core/log.js';
import type { FocalPoint } from '../core/params.js';
import { deriveUploadKey, openJson, sealJson } from '../core/tokens.js';
import { parseUserMetaObject } from '../core/user-meta.js';
import type { StagingStore, UploadAction } from '../storage/staging-store.js';
import {
  EXTENSIONS,
  newImageId,
  prepareFileUpload,
  type SavedVersion,
  saveVersion,
  type UploadDeps,
} from './uploads.js';

/** Every part but the last has this size (S3 wants at least 5 MiB). */
export const PART_SIZE = 8 * 1024 * 1024;
/** Part URLs and the upload id are valid this long. @default 1 hour */
export const STAGED_UPLOAD_TTL_SECONDS = 60 * 60;
/** Where staged objects live in the staging bucket. */
const STAGED_PREFIX = 'staged/';
/** The sealed id travels in a URL path: its metadata stays small. */
const MAX_STAGED_META_LENGTH = 2048;

export interface StagedUploadDeps extends UploadDeps {
  staging: StagingStore;
  /** @default STAGED_UPLOAD_TTL_SECONDS */
  stagedUploadTtlSeconds?: number;
}

/** What the sealed upload id holds. */
interface StagedUpload {
  /** The staged object's key. */
  o: string;
  /** S3's multipart upload id. */
  u: string;
  /** The image key it becomes. */
  k: string;
  /** Declared size. */
  b: number;
  m: Record<string, string>;
  f: FocalPoint | null;
  /** Unix seconds. */
  exp: number;
}

export interface CreatedUpload {
  uploadId: string;
  key: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
  expiresAt: string;
}

/** `POST /api/uploads` with `{key?, bytes, contentType?, meta?, focalPoint?}`. */
export async function createStagedUpload(
  deps: StagedUploadDeps,
  body: Record<string, unknown>,
): Promise<CreatedUpload> {
  const known = new Set(['key', 'bytes', 'contentType', 'meta', 'focalPoint']);
  const unknown = Object.keys(body).filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw invalidParam('the upload', 'only key, bytes, contentType, meta and focalPoint', unknown.join(', '));
  const bytes = body.bytes;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) {
    throw invalidParam('bytes', 'a positive integer', bytes);
  }
  checkOriginalBytes(bytes, deps.config);
  const key = body.key === undefined ? newKey(body.contentType) : checkKey(body.key);
  const meta = parseUserMetaObject(Object.hasOwn(body, 'meta') ? body.meta : undefined);
  if (JSON.stringify(meta).length > MAX_STAGED_META_LENGTH) {
    throw new HttpError(
      'invalid_param',
      `Expected at most ${MAX_STAGED_META_LENGTH} characters of meta for a staged upload`,
    );
  }
  const focalPoint = Object.hasOwn(body, 'focalPoint') ? focalPointFromJson(body.focalPoint) : null;

  const ttl = deps.stagedUploadTtlSeconds ?? STAGED_UPLOAD_TTL_SECONDS;
  const exp = Math.floor(Date.now() / 1000) + ttl;
  const objectKey = `${STAGED_PREFIX}${randomBytes(16).toString('hex')}`;
  const s3UploadId = await deps.staging.create(objectKey);
  const urls = await deps.staging.partUrls(objectKey, s3UploadId, partSizes(bytes), ttl);
  const staged: StagedUpload = { o: objectKey, u: s3UploadId, k: key, b: bytes, m: { ...meta }, f: focalPoint, exp };
  return {
    uploadId: sealJson(staged, deriveUploadKey(await deps.masterKey())),
    key,
    partSize: PART_SIZE,
    parts: urls.map((url, i) => ({ partNumber: i + 1, url })),
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

/**
 * `POST /api/uploads/<id>/complete` with `{parts: [{partNumber, etag}]}`: the answer of a PUT.
 * Of concurrent completes and aborts of one upload, in any processes, one wins
 * its claim (staging-store.ts); the others answer 409 `conflict`, so one
 * upload id stores at most one version.
 */
export async function completeStagedUpload(
  deps: StagedUploadDeps,
  uploadId: string,
  body: Record<string, unknown>,
): Promise<SavedVersion> {
  const staged = await openUpload(deps, uploadId);
  const parts = parseParts(body.parts, partSizes(staged.b).length);
  const claim = await deps.staging.claim(staged.o, 'complete');
  if (!claim.won) throw conflict(claim.action);
  const joined = await deps.staging.complete(staged.o, staged.u, parts).catch(async (error: unknown) => {
    // Storage failed: give the claim back so the client's retry (or abort) can run.
    await releaseClaim(deps, staged.o);
    throw error;
  });
  if (!joined) {
    // Nothing was joined: the upload stays open for a complete with the right parts, or an abort.
    await releaseClaim(deps, staged.o);
    throw invalidParam(
      'parts',
      'the parts of an open upload, each with the ETag its PUT answered',
      JSON.stringify(body.parts),
    );
  }
  const directory = await mkdtemp(join(tmpdir(), 'edge-resizer-ingest-'));
  try {
    const size = await deps.staging.head(staged.o);
    if (size === undefined) throw new HttpError('not_found', 'No such upload');
    if (size !== staged.b) {
      throw new HttpError('invalid_param', `The parts hold ${size} bytes; the upload declared ${staged.b}`);
    }
    checkOriginalBytes(size, deps.config);
    const path = join(directory, 'original');
    const sha256 = await copyHashing(await deps.staging.stream(staged.o), path);
    const prepared = await prepareFileUpload(
      { path, bytes: size, sha256 },
      staged.m,
      deps.config,
      staged.f ?? undefined,
    );
    const saved = await saveVersion(deps, staged.k, prepared);
    if (!saved) throw new HttpError('internal_error', 'The upload was not stored');
    return saved;
  } finally {
    await rm(directory, { recursive: true, force: true });
    await deps.staging.delete(staged.o).catch((error: unknown) => {
      deps.logger.error('could not delete a staged upload; the lifecycle rule expires it', describeError(error));
    });
  }
}

/**
 * `DELETE /api/uploads/<id>`: the parts and any staged object are gone. A
 * repeated abort answers as the first did; an abort of an upload being
 * completed is 409 `conflict`.
 */
export async function abortStagedUpload(deps: StagedUploadDeps, uploadId: string): Promise<void> {
  const staged = await openUpload(deps, uploadId);
  const claim = await deps.staging.claim(staged.o, 'abort');
  if (!claim.won) {
    if (claim.action === 'abort') return;
    throw conflict(claim.action);
  }
  try {
    await deps.staging.abort(staged.o, staged.u);
  } catch (error) {
    await releaseClaim(deps, staged.o);
    throw error;
  }
  await deps.staging.delete(staged.o);
}

/** A claim that cannot be given back only delays the upload: the lifecycle rule removes it. */
async function releaseClaim(deps: StagedUploadDeps, objectKey: string): Promise<void> {
  await deps.staging.release(objectKey).catch((error: unknown) => {
    deps.logger.error('could not release the claim of a staged upload', describeError(error));
  });
}

/** The sizes of the parts of a `bytes` upload: `PART_SIZE` each, the last one the rest. */
function partSizes(bytes: number): number[] {
  const count = Math.max(1, Math.ceil(bytes / PART_SIZE));
  return Array.from({ length: count }, (_, i) => (i < count - 1 ? PART_SIZE : bytes - (count - 1) * PART_SIZE));
}

function conflict(action: UploadAction | undefined): HttpError {
  if (action === 'abort') return new HttpError('conflict', 'This upload was aborted; start a new one');
  return new HttpError('conflict', 'This upload is already completed, or being completed');
}

async function openUpload(deps: StagedUploadDeps, uploadId: string): Promise<StagedUpload> {
  const staged = openJson(uploadId, deriveUploadKey(await deps.masterKey())) as StagedUpload;
  if (typeof staged?.o !== 'string' || typeof staged.u !== 'string' || typeof staged.exp !== 'number') {
    throw new HttpError('forbidden', 'This upload id is not valid');
  }
  if (staged.exp < Date.now() / 1000) throw new HttpError('expired', 'This upload has expired; start a new one');
  return { ...staged, m: Object.assign(Object.create(null) as Record<string, string>, staged.m) };
}

/** The part list of `complete`: every issued part, 1..count in order. */
function parseParts(value: unknown, count: number): { partNumber: number; etag: string }[] {
  const expected = `a list of {partNumber, etag}, part numbers 1 to ${count} in order`;
  if (!Array.isArray(value) || value.length !== count) {
    throw invalidParam('parts', expected, JSON.stringify(value));
  }
  return value.map((part: unknown, i) => {
    const { partNumber, etag } = (part ?? {}) as { partNumber?: unknown; etag?: unknown };
    if (partNumber !== i + 1 || typeof etag !== 'string' || etag.length === 0 || etag.length > 128) {
      throw invalidParam('parts', expected, JSON.stringify(part));
    }
    return { partNumber, etag };
  });
}

function checkKey(value: unknown): string {
  if (typeof value !== 'string') throw new HttpError('invalid_key', 'Expected a string key');
  validateImageKey(value);
  return value;
}

/** A new id plus the extension of the announced type (the bytes are sniffed again at completion). */
function newKey(contentType: unknown): string {
  const format = typeof contentType === 'string' ? /^image\/([a-z]+)$/.exec(contentType)?.[1] : undefined;
  const extension = format && Object.hasOwn(EXTENSIONS, format) ? EXTENSIONS[format] : undefined;
  if (!extension) {
    throw invalidParam(
      'contentType',
      'image/jpeg, image/png, image/webp, image/gif, image/tiff or image/avif when no key is given',
      contentType,
    );
  }
  const key = `${newImageId()}.${extension}`;
  validateImageKey(key);
  return key;
}

/** Copies `source` to `path`, returning the hex SHA-256 of what was written. */
async function copyHashing(source: NodeJS.ReadableStream, path: string): Promise<string> {
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(source, hashing, createWriteStream(path));
  return hash.digest('hex');
}
