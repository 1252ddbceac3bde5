/**
 * The miss path: what happens when the derivatives bucket
 * has no object for a derivative key. Fetch the encrypted original, decrypt,
 * transform, store, and decide between answering the image and answering a
 * redirect to the stored object. Everything runs inside one time budget
 * (`limits.transformTimeoutMs`): storage calls get an `AbortSignal` that fires
 * when the budget ends, and the transform gets the milliseconds left.
 *
 * Transport-neutral: the edge handler and any other caller convert their
 * request into a `RenderRequest` and the `RenderResult` back into a response.
 * Storage is the small `MissStorage` interface below; no AWS import here.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AdmissionGate } from './admission.js';
import { type EdgeResizerConfig, GENERATED_RESPONSE_LIMIT_BYTES } from './config.js';
import { decryptInto, TAG_BYTES } from './envelope.js';
import { busyError, HttpError } from './errors.js';
import { readStoredFocalPoint } from './focal-point.js';
import { originalTooLarge } from './limits.js';
import { describeError, type Logger } from './log.js';
import type { Variant } from './params.js';
import { createPlaintextPool, type PlaintextPool } from './plaintext-pool.js';
import { inspectImage, type TransformOptions, type TransformResult, transformImage } from './transform.js';

/** Derivatives never change under one key: a new version of an original purges them. */
export const DERIVATIVE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * Object metadata of a derivative naming the revision of the original it was
 * rendered from (`x-amz-meta-resizer-source` on S3's answer). See `originalRevision`.
 */
export const SOURCE_REVISION_META = 'resizer-source';

/** Object metadata of an original holding its focal point as `x,y` fractions. */
export const FOCAL_POINT_META = 'focal-point';

/** Seconds a client is asked to wait after a miss answered 503 `busy` (a slot or the budget ran out). */
export const MISS_RETRY_AFTER_SECONDS = 2;

/**
 * Plaintext buffers reused across misses: one pool per admission gate, with
 * one idle buffer per slot; misses without a gate (Lambda@Edge, one at a time)
 * share one buffer.
 */
const plaintextPools = new WeakMap<AdmissionGate, PlaintextPool>();
const ungatedPool = createPlaintextPool({ maxIdle: 1 });

/** The pool the misses behind `gate` (or without one) decrypt into; exported for tests. */
export function plaintextPoolFor(gate?: AdmissionGate): PlaintextPool {
  if (!gate) return ungatedPool;
  let pool = plaintextPools.get(gate);
  if (!pool) {
    pool = createPlaintextPool({ maxIdle: gate.limits.slots });
    plaintextPools.set(gate, pool);
  }
  return pool;
}

/** How often one miss renders again because the original changed under it, before it gives up with `busy`. */
const MAX_RENDER_ROUNDS = 3;

/** Options of every storage call on the miss path. */
export interface StorageCallOptions {
  /** Fires when the miss's time budget ends: the call (retries included) must stop and reject. */
  signal?: AbortSignal;
}

/** An original's head: what S3 sends before the body. */
export interface OriginalHead {
  /** Bytes of the stored (encrypted) object. */
  length: number;
  /** Envelope metadata and `focal-point`, without the `x-amz-meta-` prefix, names lower-case. */
  metadata: Record<string, string>;
}

export interface OriginalObject extends OriginalHead {
  /** The stored bytes; read only once `length` has passed the limit, destroyed otherwise. */
  body: Readable;
}

/** What the miss path needs from storage (the S3 adapter implements it). */
export interface MissStorage {
  /** The encrypted original, its length and metadata known before its body is read; undefined when missing. */
  getOriginal(key: string, options?: StorageCallOptions): Promise<OriginalObject | undefined>;
  /** Length and metadata without the body; undefined when missing. */
  headOriginal(key: string, options?: StorageCallOptions): Promise<OriginalHead | undefined>;
  putDerivative(
    derivativeKey: string,
    body: Buffer,
    options: StorageCallOptions & { contentType: string; cacheControl: string; metadata: Record<string, string> },
  ): Promise<void>;
  /** Deletes one derivative; no error when it is already gone. */
  deleteDerivative(derivativeKey: string, options?: StorageCallOptions): Promise<void>;
}

export interface RenderDeps {
  config: EdgeResizerConfig;
  storage: MissStorage;
  masterKey: () => Promise<Buffer>;
  /** Bounds concurrent misses in a long-lived process (the local CDN); Lambda@Edge runs one at a time. */
  gate?: AdmissionGate;
  /** Where a failed store (answered anyway) and a removed stale derivative are logged. */
  logger?: Logger;
}

export interface RenderRequest {
  /** The image key (`photos/cat.jpg`). */
  key: string;
  variant: Variant;
  /** Where the derivative is stored (`photos/cat.jpg/w400-hauto-q80-cover.webp`). */
  derivativeKey: string;
  /** Whether the output format came from `Accept` (then the answer carries `Vary: Accept`). */
  negotiated: boolean;
  /** `performance.now()` when the request arrived; the budget counts from here. @default now */
  startedAt?: number;
}

/** Timings in ms, in Server-Timing order. */
export type MissTimings = Partial<Record<'fetch' | 'decrypt' | 'transform' | 'store', number>>;

export type RenderResult =
  /** Answer the image: status 200 with these headers and this body. */
  | { kind: 'image'; headers: Record<string, string>; body: Buffer; timings: MissTimings }
  /** Stored, too large to generate: answer 302 to the request's own URL, `no-store`. */
  | { kind: 'stored-too-large'; timings: MissTimings };

/** A miss's 503 `busy`. */
function missBusy(message: string, cause?: unknown): HttpError {
  return busyError(message, { cause, retryAfterSeconds: MISS_RETRY_AFTER_SECONDS });
}

/**
 * The identity of what a render reads from an original: its ciphertext (the
 * wrapped data key and IV are fresh for every stored version, so two versions
 * never share them) and its focal point. A derivative records it; a derivative
 * whose recorded revision differs from the original's current one is stale.
 * Metadata only, so a HEAD tells it, and a focal-point change made by copying
 * the object onto itself with new metadata (same bytes, same S3 ETag) changes it.
 */
export function originalRevision(metadata: Readonly<Record<string, string>>): string {
  const parts = [metadata['x-amz-key-v2'] ?? '', metadata['x-amz-iv'] ?? '', metadata[FOCAL_POINT_META] ?? ''];
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}

/** The stored focal point `x,y` (fractions 0..1), or undefined when absent or malformed: focal-point.ts reads it. */
export const parseStoredFocalPoint = readStoredFocalPoint;

/** Bytes of a generated response with this body (sent as base64) and these headers, as CloudFront counts them. */
export function generatedResponseBytes(bodyBytes: number, headers: Readonly<Record<string, string>>): number {
  let size = 4 * Math.ceil(bodyBytes / 3);
  for (const [name, value] of Object.entries(headers)) size += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  return size;
}

export type StoredCheck = 'fresh' | 'stale' | 'gone';

/**
 * Whether a derivative found in storage may be served: its recorded revision
 * must be the original's current one. Fails closed: a derivative that records
 * no revision (stored by anything but a render, or before revisions existed)
 * is never proof of anything and counts as stale, so it is rendered again and
 * overwritten; with its original gone it is `gone` like any other.
 */
export async function checkStoredDerivative(
  deps: Pick<RenderDeps, 'storage'>,
  key: string,
  recordedRevision: string | undefined,
  options: StorageCallOptions = {},
): Promise<StoredCheck> {
  const head = await deps.storage.headOriginal(key, options);
  if (!head) return 'gone';
  if (recordedRevision === undefined) return 'stale';
  return originalRevision(head.metadata) === recordedRevision ? 'fresh' : 'stale';
}

/**
 * Renders and stores one derivative.
 *
 * Why no stale derivative outlives a replace, a focal-point change or a DELETE.
 * A writer (the API) does: W1 change `<key>` (promote the new
 * version, rewrite its focal point, or delete it), W2 purge `<key>/*` from the
 * derivatives bucket, W3 answer. This function does: R1 read the original
 * (revision v), R2 store the derivative tagged v, R3 HEAD the original again;
 * if it no longer has revision v, render again from what is there now (that
 * derivative overwrites the old one), and if it is gone, delete the derivative
 * and answer 404. The edge serves a stored derivative only
 * after `checkStoredDerivative` (H1 read the derivative, H2 HEAD the
 * original, serve only if the tag equals the current revision).
 *   - A request that starts after W3 and finds a derivative does H2 after W1,
 *     so it sees the new revision (or none) and serves only a derivative of the
 *     current original: never an old one, whatever is still in the bucket.
 *     S3's read-after-write consistency is all this needs.
 *   - A render in flight during the write: if R3 comes before W1, then R2 came
 *     before W2, and the purge deletes the derivative; if R3 comes after W1, R3
 *     sees the change and the render replaces (or deletes) its own derivative.
 *     Either way nothing of the old version is left once the render has
 *     finished, and until then H2 refuses to serve it.
 *   - A render's answer is of the old version only when R3 came before W1,
 *     i.e. the request was answered (modulo transit) while the write had not
 *     yet changed anything: it was concurrent with the write.
 *   - Revisions name the ciphertext and focal point, which a new version never
 *     repeats, so no ABA: a tag equal to the current revision means the same
 *     input bytes and focal point, hence the same pixels.
 * A render that dies between R2 and R3 (or whose overwrite or delete fails)
 * may leave an old-version derivative in the bucket; H2 never serves it, and
 * the next render of that URL, a request finding it with the original gone,
 * or the next purge of the key removes it.
 */
export async function renderDerivative(deps: RenderDeps, request: RenderRequest): Promise<RenderResult> {
  const { config, storage, gate } = deps;
  const startedAt = request.startedAt ?? performance.now();
  const budgetMs = config.limits.transformTimeoutMs;
  const deadline = startedAt + budgetMs;
  const controller = new AbortController();
  const outOfTime = missBusy('The image took too long to prepare; try again');
  const timer = setTimeout(() => controller.abort(outOfTime), Math.max(0, deadline - performance.now()));
  const { signal } = controller;
  const timings: MissTimings = {};
  /** The latest fetch-decrypt-transform, settled or not: what holds an admission slot. */
  let settled: Promise<void> = Promise.resolve();

  const budget = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(outOfTime);
    signal.addEventListener('abort', () => reject(outOfTime), { once: true });
  });
  budget.catch(() => {});

  try {
    let release: (() => void) | undefined;
    if (gate) {
      const acquiring = gate.acquire(signal);
      try {
        release = await withinBudget(acquiring);
      } catch (error) {
        // Out of time as the slot came: hand it straight back.
        acquiring.then(
          (late) => late(),
          () => {},
        );
        throw error;
      }
    }
    const work = miss();
    // The slot is freed when the transform itself has ended, not when the budget answers for
    // it: a transform cut by the budget holds its core until sharp's own timeout stops it.
    if (release)
      void work
        .then(
          () => settled,
          () => settled,
        )
        .then(release);
    return await work;
  } catch (error) {
    // Every `busy` tells the client when to come back, whichever step ran out of time.
    if (error instanceof HttpError && error.code === 'busy' && error.headers['Retry-After'] === undefined) {
      throw missBusy(error.message, error);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    // Whatever is still in flight (a storage call, a retry) stops now.
    if (!signal.aborted) controller.abort(outOfTime);
  }

  /** Rejects with `busy` when the budget ends first, so no answer waits on work that ignores the signal. */
  function withinBudget<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, budget]);
  }

  async function miss(): Promise<RenderResult> {
    for (let round = 0; round < MAX_RENDER_ROUNDS; round += 1) {
      const attempt = renderOnce();
      settled = attempt.then(
        () => {},
        () => {},
      );
      const { rendered, revision } = await withinBudget(attempt);
      const body = rendered.data;
      const headers: Record<string, string> = {
        'Content-Type': rendered.contentType,
        'Cache-Control': DERIVATIVE_CACHE_CONTROL,
        ETag: `"${createHash('md5').update(body).digest('hex')}"`,
      };
      if (request.negotiated) headers.Vary = 'Accept';

      let stored = true;
      let storeError: unknown;
      const storeStart = performance.now();
      try {
        await withinBudget(
          storage.putDerivative(request.derivativeKey, body, {
            contentType: rendered.contentType,
            cacheControl: DERIVATIVE_CACHE_CONTROL,
            metadata: { [SOURCE_REVISION_META]: revision },
            signal,
          }),
        );
      } catch (error) {
        // The viewer still gets its image when it fits; the next miss tries to store again.
        stored = false;
        storeError = signal.aborted ? outOfTime : error;
        deps.logger?.error('storing the derivative failed', {
          derivativeKey: request.derivativeKey,
          ...describeError(error),
        });
      }
      if (stored) {
        // R3: did the original change while we rendered? (see above)
        const now = await recheck(revision);
        if (now === 'gone') {
          await withinBudget(storage.deleteDerivative(request.derivativeKey, { signal })).catch((error: unknown) => {
            deps.logger?.error('removing the derivative of a deleted original failed', {
              derivativeKey: request.derivativeKey,
              ...describeError(error),
            });
          });
          throw new HttpError('not_found', 'No such image');
        }
        if (now === 'stale') {
          // Render again from the original as it is now; its derivative overwrites this one.
          deps.logger?.info('the original changed during a render; rendering again', {
            derivativeKey: request.derivativeKey,
          });
          continue;
        }
      }
      timings.store = performance.now() - storeStart;
      headers['Server-Timing'] = serverTiming(timings);

      if (generatedResponseBytes(body.length, headers) <= GENERATED_RESPONSE_LIMIT_BYTES)
        return { kind: 'image', headers, body, timings };
      if (!stored) {
        if (storeError instanceof HttpError && storeError.code === 'busy') throw storeError;
        throw new HttpError('storage_error', 'The image is too large to answer before it is stored', {
          cause: storeError,
        });
      }
      return { kind: 'stored-too-large', timings };
    }
    throw missBusy('The image keeps changing; try again');
  }

  /** R3. A failed HEAD counts as unchanged: the edge's own check still refuses a stale derivative. */
  async function recheck(revision: string): Promise<StoredCheck> {
    try {
      const now = await withinBudget(storage.headOriginal(request.key, { signal }));
      if (!now) return 'gone';
      return originalRevision(now.metadata) === revision ? 'fresh' : 'stale';
    } catch (error) {
      deps.logger?.warn('re-checking the original after storing failed', {
        derivativeKey: request.derivativeKey,
        ...describeError(error),
      });
      return 'fresh';
    }
  }

  async function renderOnce(): Promise<{ rendered: TransformResult; revision: string }> {
    const start = performance.now();
    // The master key is read alongside the original, not after it.
    const [original, masterKey] = await Promise.all([storage.getOriginal(request.key, { signal }), deps.masterKey()]);
    if (!original) throw new HttpError('not_found', 'No such image');
    const pool = plaintextPoolFor(gate);
    const plaintext = await readAndDecrypt(original, masterKey, config, signal, timings, pool);
    timings.fetch = performance.now() - start;

    try {
      const transformStart = performance.now();
      const info = await inspectImage(plaintext, config);
      const options: TransformOptions = {
        storedFocalPoint: parseStoredFocalPoint(original.metadata[FOCAL_POINT_META]),
        timeoutMs: Math.max(1, deadline - performance.now()),
      };
      const rendered = await transformImage(plaintext, request.variant, config, info, options);
      timings.transform = performance.now() - transformStart;
      return { rendered, revision: originalRevision(original.metadata) };
    } finally {
      // Every sharp pipeline reading `plaintext` has settled (a budget cut answers without waiting, but this
      // attempt still runs to its end), and the rendered bytes are sharp's own: the buffer may serve the next miss.
      pool.release(plaintext);
    }
  }
}

/**
 * Downloads and decrypts the stored body in one pass, into one buffer of the
 * plaintext's size taken from `pool` (the caller releases it), after the size limit has been checked from the announced
 * length: an original over the limit is refused without downloading it.
 * `timings.decrypt` is the time spent decrypting, overlapped with `fetch`.
 */
async function readAndDecrypt(
  original: OriginalObject,
  masterKey: Buffer,
  config: EdgeResizerConfig,
  signal: AbortSignal,
  timings: MissTimings,
  pool: PlaintextPool,
): Promise<Buffer> {
  const { body, length } = original;
  if (length > config.limits.maxOriginalBytes + TAG_BYTES) {
    body.destroy();
    throw originalTooLarge(config);
  }
  if (length < TAG_BYTES) {
    body.destroy();
    throw new HttpError('decrypt_failed', 'The original could not be decrypted: the body is shorter than its tag');
  }
  const plaintext = pool.acquire(length - TAG_BYTES);
  try {
    timings.decrypt = await decryptInto(abortable(body, signal), original.metadata, masterKey, plaintext);
  } catch (error) {
    // Nothing else saw the buffer: unauthenticated bytes in it are overwritten before any next use.
    pool.release(plaintext);
    throw error;
  } finally {
    body.destroy();
  }
  return plaintext;
}

/** The chunks of `body`, stopping with the signal's reason once it fires. */
async function* abortable(body: Readable, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (signal.aborted) throw signal.reason;
    yield chunk;
  }
}

function serverTiming(timings: MissTimings): string {
  return (['fetch', 'decrypt', 'transform', 'store'] as const)
    .flatMap((name) => {
      const ms = timings[name];
      return ms === undefined ? [] : [`${name};dur=${ms.toFixed(1)}`];
    })
    .join(', ');
}
