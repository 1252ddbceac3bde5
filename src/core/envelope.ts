/**
 * Envelope encryption of originals, after the S3 Encryption
 * Client v2 convention: a fresh 256-bit data key per object encrypts the body
 * with AES-256-GCM (tag appended), and the data key is wrapped by the master
 * key with AES-256-GCM. The wrap and the metadata names follow S3EC v2, so the
 * objects stay readable by its "AES/GCM" keyring given the same master key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HttpError } from './errors.js';

export const CONTENT_ALGORITHM = 'AES/GCM/NoPadding';
export const WRAP_ALGORITHM = 'AES/GCM';
export const TAG_BYTES = 16;
const IV_BYTES = 12;
const KEY_BYTES = 32;
const BLOCK_BYTES = 16;

/** Object metadata names (S3 user metadata, without the `x-amz-meta-` prefix S3 adds). */
export const META = {
  wrappedKey: 'x-amz-key-v2',
  iv: 'x-amz-iv',
  contentAlgorithm: 'x-amz-cek-alg',
  wrapAlgorithm: 'x-amz-wrap-alg',
  tagLength: 'x-amz-tag-len',
  plaintextLength: 'x-amz-unencrypted-content-length',
  materialDescription: 'x-amz-matdesc',
} as const;

export type EnvelopeMetadata = Record<string, string>;

/**
 * Which master key wrapped an object's data key: a fingerprint of the key
 * (never the key), so a reader holding several keys tries the right one first
 * and a rotation can tell what it has re-wrapped. Not part of S3EC v2's
 * metadata; an object without it was wrapped before key ids existed.
 */
export const KEY_ID_META = 'resizer-kid';

/**
 * The keys a master key accepts besides itself: a keyring (the key file or
 * parameter holding several keys, one per line, the first the one that
 * wraps) parses to its first key, and its others are remembered here, so
 * every reader that holds the first key also unwraps what the others wrapped.
 * That is what lets a rotation re-wrap objects while readers that loaded the
 * keyring keep reading both the re-wrapped and the not yet re-wrapped ones.
 */
const previousKeys = new WeakMap<Buffer, readonly Buffer[]>();
const keyIds = new WeakMap<Buffer, string>();

/**
 * Reads a master key given as 64 hex characters or 32 raw bytes, or a keyring:
 * several 64-hex keys separated by whitespace, the first one the key that wraps.
 */
export function parseMasterKey(material: Buffer | string): Buffer {
  const text = Buffer.isBuffer(material) ? material.toString('latin1') : material;
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (Buffer.isBuffer(material) && material.length === KEY_BYTES) return material;
  const keys = trimmed.split(/\s+/);
  if (keys.length > 1 && keys.length <= MAX_KEYRING && keys.every((key) => /^[0-9a-fA-F]{64}$/.test(key))) {
    const [primary, ...previous] = keys.map((key) => Buffer.from(key, 'hex')) as [Buffer, ...Buffer[]];
    previousKeys.set(primary, previous);
    return primary;
  }
  throw new Error('A master key must be 64 hex characters (256 bits), or a keyring of such keys, one per line');
}

/** A keyring holds the key that wraps and the ones a rotation is moving away from: a few at most. */
const MAX_KEYRING = 4;

/** Every key `masterKey` unwraps with: itself first, then its keyring's others. */
export function keyringOf(masterKey: Buffer): readonly Buffer[] {
  return [masterKey, ...(previousKeys.get(masterKey) ?? [])];
}

/** A keyring as a key file or parameter holds it: the wrapping key first, one hex key per line. */
export function formatKeyring(keys: readonly Buffer[]): string {
  return `${keys.map((key) => key.toString('hex')).join('\n')}\n`;
}

/** The id of a master key (KEY_ID_META): 16 characters of a domain-separated SHA-256 of it. */
export function masterKeyId(masterKey: Buffer): string {
  let id = keyIds.get(masterKey);
  if (id === undefined) {
    id = createHash('sha256').update('edge-resizer master key id\0').update(masterKey).digest('base64url').slice(0, 16);
    keyIds.set(masterKey, id);
  }
  return id;
}

/** A new master key as 64 hex characters. */
export function generateMasterKeyHex(): string {
  return randomBytes(KEY_BYTES).toString('hex');
}

interface DataKey {
  dataKey: Buffer;
  iv: Buffer;
  metadata: EnvelopeMetadata;
}

/** S3EC v2 "AES/GCM" wrap: wrapIv || AES-GCM(masterKey, dataKey, aad = content algorithm) || tag. */
function wrapDataKey(dataKey: Buffer, masterKey: Buffer): string {
  const wrapIv = randomBytes(IV_BYTES);
  const wrap = createCipheriv('aes-256-gcm', masterKey, wrapIv);
  wrap.setAAD(Buffer.from(CONTENT_ALGORITHM));
  return Buffer.concat([wrapIv, wrap.update(dataKey), wrap.final(), wrap.getAuthTag()]).toString('base64');
}

function newDataKey(masterKey: Buffer, plaintextLength: number): DataKey {
  const dataKey = randomBytes(KEY_BYTES);
  const iv = randomBytes(IV_BYTES);
  return {
    dataKey,
    iv,
    metadata: {
      [META.wrappedKey]: wrapDataKey(dataKey, masterKey),
      [META.iv]: iv.toString('base64'),
      [META.contentAlgorithm]: CONTENT_ALGORITHM,
      [META.wrapAlgorithm]: WRAP_ALGORITHM,
      [META.tagLength]: String(TAG_BYTES * 8),
      [META.plaintextLength]: String(plaintextLength),
      [META.materialDescription]: '{}',
      [KEY_ID_META]: masterKeyId(masterKey),
    },
  };
}

/**
 * The metadata fields that re-wrap an object's data key under `masterKey`
 * (the key that wraps), the data key unwrapped with any key of its keyring:
 * the body and its IV are untouched, so nothing is re-encrypted. Throws
 * `decrypt_failed` when no key of the keyring unwraps it.
 */
export function rewrapDataKey(metadata: EnvelopeMetadata, masterKey: Buffer): EnvelopeMetadata {
  const { dataKey } = unwrapDataKey(metadata, masterKey);
  return { [META.wrappedKey]: wrapDataKey(dataKey, masterKey), [KEY_ID_META]: masterKeyId(masterKey) };
}

/** Whether `masterKey` itself (not another key of its keyring) wrapped this object's data key. */
export function isWrappedBy(metadata: EnvelopeMetadata, masterKey: Buffer): boolean {
  const recorded = metadata[KEY_ID_META];
  if (recorded !== undefined && recorded !== masterKeyId(masterKey)) return false;
  try {
    unwrapWith(metadata, masterKey);
    return true;
  } catch {
    return false;
  }
}

function decryptFailed(reason: string, cause?: unknown): HttpError {
  return new HttpError('decrypt_failed', `The original could not be decrypted: ${reason}`, { cause });
}

/** Unwraps with the keyring of `masterKey`: the key the object names first, then the others. */
function unwrapDataKey(metadata: EnvelopeMetadata, masterKey: Buffer): { dataKey: Buffer; iv: Buffer } {
  const keys = keyringOf(masterKey);
  if (keys.length === 1) return unwrapWith(metadata, masterKey);
  const named = metadata[KEY_ID_META];
  const ordered = [...keys].sort((a, b) => Number(masterKeyId(b) === named) - Number(masterKeyId(a) === named));
  let failure: unknown;
  for (const key of ordered) {
    try {
      return unwrapWith(metadata, key);
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

function unwrapWith(metadata: EnvelopeMetadata, masterKey: Buffer): { dataKey: Buffer; iv: Buffer } {
  if (metadata[META.contentAlgorithm] !== CONTENT_ALGORITHM || metadata[META.wrapAlgorithm] !== WRAP_ALGORITHM) {
    throw decryptFailed('unknown encryption algorithm');
  }
  const wrapped = Buffer.from(metadata[META.wrappedKey] ?? '', 'base64');
  const iv = Buffer.from(metadata[META.iv] ?? '', 'base64');
  if (wrapped.length !== IV_BYTES + KEY_BYTES + TAG_BYTES || iv.length !== IV_BYTES) {
    throw decryptFailed('encryption metadata is missing or malformed');
  }
  try {
    const unwrap = createDecipheriv('aes-256-gcm', masterKey, wrapped.subarray(0, IV_BYTES));
    unwrap.setAAD(Buffer.from(CONTENT_ALGORITHM));
    unwrap.setAuthTag(wrapped.subarray(IV_BYTES + KEY_BYTES));
    const dataKey = Buffer.concat([unwrap.update(wrapped.subarray(IV_BYTES, IV_BYTES + KEY_BYTES)), unwrap.final()]);
    return { dataKey, iv };
  } catch (error) {
    throw decryptFailed('the data key does not unwrap with this master key', error);
  }
}

/** Encrypts a whole body: `ciphertext || tag` and the metadata to store beside it. */
export function encryptBuffer(plaintext: Buffer, masterKey: Buffer): { body: Buffer; metadata: EnvelopeMetadata } {
  const { dataKey, iv, metadata } = newDataKey(masterKey, plaintext.length);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { body, metadata };
}

/**
 * Decrypts and authenticates a whole body. Nothing is returned unless the tag
 * verifies, so a tampered object can never reach the decoder.
 */
export function decryptBuffer(body: Buffer, metadata: EnvelopeMetadata, masterKey: Buffer): Buffer {
  const { dataKey, iv } = unwrapDataKey(metadata, masterKey);
  if (body.length < TAG_BYTES) throw decryptFailed('the body is shorter than its tag');
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plaintext = decipher.update(body.subarray(0, body.length - TAG_BYTES));
    // GCM's final() only checks the tag and yields nothing: skip a plaintext-sized copy.
    const rest = decipher.final();
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch (error) {
    throw decryptFailed('the body fails authentication', error);
  }
}

/** A stream that encrypts as it goes and appends the tag; `metadata` is known before the first byte. */
export function createEncryptStream(
  masterKey: Buffer,
  plaintextLength: number,
): { metadata: EnvelopeMetadata; stream: Transform } {
  const { dataKey, iv, metadata } = newDataKey(masterKey, plaintextLength);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      callback(null, cipher.update(chunk));
    },
    flush(callback: TransformCallback) {
      this.push(cipher.final());
      callback(null, cipher.getAuthTag());
    },
  });
  return { metadata, stream };
}

/** Plaintext length of a stored envelope, from its metadata or its stored size. */
export function plaintextLength(metadata: EnvelopeMetadata, storedBytes?: number): number {
  const declared = Number(metadata[META.plaintextLength]);
  if (Number.isSafeInteger(declared) && declared >= 0) return declared;
  if (storedBytes !== undefined) return storedBytes - TAG_BYTES;
  throw decryptFailed('the plaintext length is unknown');
}

/**
 * Decrypts a whole stored object (`ciphertext || tag`) as a stream. Bytes flow
 * out before the tag is checked (that is what streaming means), except the
 * last piece of plaintext, which is withheld until the tag verifies: a
 * tampered object errors with `decrypt_failed` before its end is sent, so a
 * response is cut short instead of completing.
 *
 * When the metadata declares the plaintext length (every object this project
 * stores does), the tag's place is known and each chunk is deciphered as it
 * is, in one `update`; otherwise the last TAG_BYTES seen are held back.
 */
export function createDecryptStream(metadata: EnvelopeMetadata, masterKey: Buffer): Transform {
  const { dataKey, iv } = unwrapDataKey(metadata, masterKey);
  const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
  const declared = Number(metadata[META.plaintextLength]);
  const known = Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
  /** Plaintext not yet sent: the latest piece, released by the next one or by a verified tag. */
  let last: Buffer | undefined;
  const emit = (stream: Transform, piece: Buffer | undefined) => {
    if (piece === undefined || piece.length === 0) return;
    if (last !== undefined) stream.push(last);
    last = piece;
  };
  const finish = (tag: Buffer, callback: TransformCallback) => {
    try {
      decipher.setAuthTag(tag);
      decipher.final();
    } catch (error) {
      return callback(decryptFailed('the body fails authentication', error));
    }
    callback(null, last);
  };

  if (known !== undefined) {
    const cut = new CiphertextCut(known);
    return new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        let ciphertext: Uint8Array | undefined;
        try {
          ciphertext = cut.take(chunk);
        } catch (error) {
          return callback(error as Error);
        }
        emit(this, ciphertext && decipher.update(ciphertext));
        callback();
      },
      flush(callback: TransformCallback) {
        const tag = cut.tag();
        if (tag instanceof HttpError) return callback(tag);
        finish(tag, callback);
      },
    });
  }

  // The length is not declared: the last TAG_BYTES seen may be the tag, so they are held back.
  let held: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (chunk.length >= TAG_BYTES) {
        // No copy of the chunk, only of its last 16 bytes. A chunk that arrives proves the bytes held before it
        // were ciphertext.
        if (held.length > 0) emit(this, decipher.update(held));
        emit(this, decipher.update(chunk.subarray(0, chunk.length - TAG_BYTES)));
        held = Buffer.from(chunk.subarray(chunk.length - TAG_BYTES));
        return callback();
      }
      const joined = Buffer.concat([held, chunk]);
      const split = Math.max(0, joined.length - TAG_BYTES);
      held = joined.subarray(split);
      emit(this, split > 0 ? decipher.update(joined.subarray(0, split)) : undefined);
      callback();
    },
    flush(callback: TransformCallback) {
      if (held.length !== TAG_BYTES) return callback(decryptFailed('the body is shorter than its tag'));
      finish(held, callback);
    },
  });
}

/**
 * Splits a stored body of `ciphertextBytes` bytes of ciphertext and then the
 * tag into the two, chunk by chunk, without copying the ciphertext: the tag's
 * place is known, so no byte is held back.
 */
class CiphertextCut {
  private seen = 0;
  private readonly tagBytes = Buffer.alloc(TAG_BYTES);
  private tagFilled = 0;

  constructor(private readonly ciphertextBytes: number) {}

  /** The ciphertext in `chunk` (a view of it), or undefined when it holds only tag bytes. */
  take(chunk: Uint8Array): Uint8Array | undefined {
    const body = Math.min(chunk.length, this.ciphertextBytes - this.seen);
    this.seen += body;
    const rest = chunk.length - body;
    if (rest > 0) {
      if (this.tagFilled + rest > TAG_BYTES) throw decryptFailed('the body is longer than announced');
      this.tagBytes.set(chunk.subarray(body), this.tagFilled);
      this.tagFilled += rest;
    }
    if (body === 0) return undefined;
    return body === chunk.length ? chunk : chunk.subarray(0, body);
  }

  /** The tag once the whole body has arrived, or the error saying what is missing. */
  tag(): Buffer | HttpError {
    if (this.seen < this.ciphertextBytes) return decryptFailed('the body is shorter than announced');
    if (this.tagFilled !== TAG_BYTES) return decryptFailed('the body is shorter than its tag');
    return this.tagBytes;
  }
}

/**
 * Where to read and how to decrypt plaintext bytes `start..end` (inclusive) of
 * an envelope. GCM encrypts with AES-CTR whose first block counter is
 * `iv || 2`, so any block can be decrypted alone: read from the block holding
 * `start`, decrypt with CTR at that counter, drop the leading bytes. A range is
 * not authenticated (the tag covers the whole body): ranges are served only to
 * holders of a sealed token.
 */
export function planRangeDecrypt(
  metadata: EnvelopeMetadata,
  masterKey: Buffer,
  start: number,
  end: number,
): { storedStart: number; storedEnd: number; stream: Transform } {
  const { dataKey, iv } = unwrapDataKey(metadata, masterKey);
  const firstBlock = Math.floor(start / BLOCK_BYTES);
  const counter = Buffer.alloc(BLOCK_BYTES);
  iv.copy(counter, 0);
  counter.writeUInt32BE((2 + firstBlock) >>> 0, IV_BYTES);
  const ctr = createDecipheriv('aes-256-ctr', dataKey, counter);
  let skip = start - firstBlock * BLOCK_BYTES;
  let remaining = end - start + 1;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      let plain = ctr.update(chunk);
      if (skip > 0) {
        const dropped = Math.min(skip, plain.length);
        plain = plain.subarray(dropped);
        skip -= dropped;
      }
      if (plain.length > remaining) plain = plain.subarray(0, remaining);
      remaining -= plain.length;
      callback(null, plain.length > 0 ? plain : undefined);
    },
  });
  return { storedStart: firstBlock * BLOCK_BYTES, storedEnd: end, stream };
}

/**
 * Decrypts a whole stored body (`ciphertext || tag`) as its chunks arrive,
 * straight into `plaintext`, which must be `storedBytes - TAG_BYTES` long: no
 * copy of the ciphertext is kept, and decryption overlaps the download (the
 * miss path). Throws `decrypt_failed` unless every byte arrived and the tag
 * verifies; `plaintext` must not be used then. Returns the milliseconds spent
 * decrypting.
 */
export async function decryptInto(
  source: AsyncIterable<Uint8Array>,
  metadata: EnvelopeMetadata,
  masterKey: Buffer,
  plaintext: Buffer,
): Promise<number> {
  const { dataKey, iv } = unwrapDataKey(metadata, masterKey);
  const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
  // `plaintext` says where the ciphertext ends: each chunk is deciphered as it is, nothing held back.
  const cut = new CiphertextCut(plaintext.length);
  let filled = 0;
  let spent = 0;
  for await (const chunk of source) {
    const start = performance.now();
    const ciphertext = cut.take(chunk);
    if (ciphertext !== undefined) {
      plaintext.set(decipher.update(ciphertext), filled);
      filled += ciphertext.length;
    }
    spent += performance.now() - start;
  }
  const start = performance.now();
  const tag = cut.tag();
  if (tag instanceof HttpError) throw tag;
  try {
    decipher.setAuthTag(tag);
    decipher.final();
  } catch (error) {
    throw decryptFailed('the body fails authentication', error);
  }
  return spent + performance.now() - start;
}
