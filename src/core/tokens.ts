/**
 * Originals tokens: `{key, version, id, exp}` sealed with
 * AES-256-GCM and written as base64url, so a download is authorized without a
 * lookup. The token key is derived from the master key (HKDF), so a token can
 * never be used to unwrap data keys and rotating the master key revokes them all.
 *
 * `key` and `version` alone do not name bytes: versions restart at 1 when a key
 * is deleted and uploaded again. `id` names the one stored version the token
 * was issued for (its object's random id, fresh per upload), so a token opens
 * those bytes or nothing, whatever happens to the key later.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { HttpError } from './errors.js';

export interface OriginalToken {
  key: string;
  version: number;
  /** The identity of the stored version, unique per upload (never reused after a delete). */
  id: string;
  /** Unix seconds. */
  exp: number;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** `GET /api/images/<key>` hands out links valid this long. */
export const ORIGINAL_URL_TTL_SECONDS = 15 * 60;

export function deriveTokenKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'edge-resizer originals token v1', 32));
}

/** The key of staged-upload ids (`POST /api/uploads`), separate from the originals tokens' key. */
export function deriveUploadKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'edge-resizer staged upload v1', 32));
}

export function sealToken(token: OriginalToken, tokenKey: Buffer): string {
  return sealJson(token, tokenKey);
}

/** Any JSON value, AES-256-GCM sealed as base64url: readable and forgeable by nobody without `key`. */
export function sealJson(value: unknown, key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(value)), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([iv, sealed]).toString('base64url');
}

/** Opens `sealJson` output; anything tampered or malformed → 403 `forbidden`. */
export function openJson(text: string, key: Buffer): unknown {
  const raw = /^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, 'base64url') : Buffer.alloc(0);
  if (raw.length <= IV_BYTES + TAG_BYTES) throw forbidden();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8'));
  } catch {
    throw forbidden();
  }
}

/** Opens a token: tampered → 403 `forbidden`, past `exp` → 403 `expired`. */
export function openToken(text: string, tokenKey: Buffer, nowSeconds = Date.now() / 1000): OriginalToken {
  const token = openJson(text, tokenKey) as OriginalToken;
  // Tokens of an older shape (no version identity) could open a re-created key's bytes: refused.
  if (
    typeof token?.key !== 'string' ||
    typeof token.exp !== 'number' ||
    !Number.isSafeInteger(token.version) ||
    typeof token.id !== 'string' ||
    token.id === ''
  ) {
    throw forbidden();
  }
  if (token.exp < nowSeconds) throw new HttpError('expired', 'This link has expired');
  return token;
}

function forbidden(): HttpError {
  return new HttpError('forbidden', 'This link is not valid');
}
