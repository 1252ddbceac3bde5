/**
 * User metadata sent with an upload as `X-Meta-<name>: <value>` headers:
 * stored with the version, returned as `meta` with the names
 * lower-cased and the prefix dropped. Bounded so one image cannot bloat the
 * metadata item (DynamoDB caps an item at 400 KB) or the NDJSON listing.
 */
import { HttpError, invalidParam } from './errors.js';

export const USER_META_PREFIX = 'x-meta-';
/** Enough for captions, credits, alt text and a few ids. */
export const MAX_META_ENTRIES = 32;
export const MAX_META_NAME_LENGTH = 64;
export const MAX_META_VALUE_LENGTH = 1024;
/** Names and values together. */
export const MAX_META_TOTAL_LENGTH = 8 * 1024;

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
// Printable ASCII and tab. Node reads header bytes as latin1, so UTF-8 sent
// raw would be stored garbled: clients percent-encode instead.
const VALUE = /^[\t\x20-\x7e]*$/;

/** Names and values a client chose, in a map without a prototype (`constructor` is just a name). */
export type UserMeta = Record<string, string>;

/**
 * Picks the `x-meta-*` entries out of lower-cased request headers. A bad name,
 * value or size is a 400 `invalid_param` naming the header.
 */
export function parseUserMeta(headers: Record<string, string | undefined>): UserMeta {
  const entries: [string, string, string][] = [];
  for (const [header, rawValue] of Object.entries(headers)) {
    const lower = header.toLowerCase();
    if (!lower.startsWith(USER_META_PREFIX) || rawValue === undefined) continue;
    entries.push([lower.slice(USER_META_PREFIX.length), rawValue.trim(), header]);
  }
  return checkUserMeta(entries);
}

/**
 * The `meta` object of a JSON request (`POST /api/uploads`), held to the same
 * rules as `X-Meta-*` headers: names as they would be after the prefix.
 */
export function parseUserMetaObject(value: unknown): UserMeta {
  if (value === undefined || value === null) return Object.create(null) as UserMeta;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidParam('meta', 'an object of strings', value);
  const entries: [string, string, string][] = [];
  for (const [name, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw invalidParam(`meta.${name}`, 'a string', entry);
    entries.push([name, entry.trim(), `meta.${name}`]);
  }
  return checkUserMeta(entries);
}

/** `[name, value, what to call it in a message]` → the checked map. */
function checkUserMeta(entries: [string, string, string][]): UserMeta {
  const meta: UserMeta = Object.create(null);
  let count = 0;
  let total = 0;
  for (const [name, value, label] of entries) {
    if (!NAME.test(name) || name.length > MAX_META_NAME_LENGTH) {
      throw invalidParam(
        'an X-Meta-* header name',
        `1 to ${MAX_META_NAME_LENGTH} of a-z 0-9 . _ - after the prefix`,
        label,
      );
    }
    if (!VALUE.test(value)) throw invalidParam(label, 'printable ASCII (percent-encode anything else)', value);
    if (value.length > MAX_META_VALUE_LENGTH)
      throw invalidParam(label, `at most ${MAX_META_VALUE_LENGTH} characters`, value);
    count += 1;
    total += name.length + value.length;
    if (count > MAX_META_ENTRIES) {
      throw new HttpError('invalid_param', `Expected at most ${MAX_META_ENTRIES} X-Meta-* headers but received more`);
    }
    if (total > MAX_META_TOTAL_LENGTH) {
      throw new HttpError(
        'invalid_param',
        `Expected at most ${MAX_META_TOTAL_LENGTH} characters of X-Meta-* names and values in all`,
      );
    }
    meta[name] = value;
  }
  return meta;
}
