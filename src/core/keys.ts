/**
 * Image keys (CONTRACT.md §3) and derivative keys (§6). A derivative key is
 * `<key>/<variant>`, e.g. `photos/cat.jpg/w400-h300-q80-cover.webp`; it names
 * every output-affecting value, so it can be parsed back into the job and a
 * key's derivatives are exactly the prefix `<key>/`.
 */
import type { FitMode } from './config.js';
import { HttpError } from './errors.js';
import { FIT_MODES, type Variant, type VariantFormat } from './params.js';

export const MAX_KEY_LENGTH = 512;
/** Route and playground prefixes; an image key may not start with them. */
export const RESERVED_KEY_PREFIXES = ['api/', 'originals/', '_'] as const;

/**
 * The playground's files live in the derivatives bucket under this prefix and
 * reach the image behaviour as the distribution's default root object, so the
 * edge handlers let them through untouched.
 */
export const PLAYGROUND_PATH_PREFIX = '/_playground/';

const KEY_CHARS = /^[A-Za-z0-9._\-/]+$/;

/**
 * Validates an image key given as it appears in the URL path after the leading
 * `/`: percent-encoding is decoded once, then the rules of §3 apply.
 */
export function parseImageKey(encodedPath: string): string {
  let key: string;
  try {
    key = decodeURIComponent(encodedPath);
  } catch {
    throw invalidKey('it is not valid percent-encoding');
  }
  validateImageKey(key);
  return key;
}

export function validateImageKey(key: string): void {
  if (key.length === 0) throw invalidKey('it is empty');
  if (key.length > MAX_KEY_LENGTH) throw invalidKey(`it is longer than ${MAX_KEY_LENGTH} characters`);
  if (!KEY_CHARS.test(key)) throw invalidKey('it may only hold A-Z a-z 0-9 . _ - /');
  const segments = key.split('/');
  if (segments.some((segment) => segment === '')) throw invalidKey('it has an empty segment');
  if (segments.some((segment) => segment === '.' || segment === '..')) throw invalidKey('it has a . or .. segment');
  const reserved = RESERVED_KEY_PREFIXES.find((prefix) => key.startsWith(prefix));
  if (reserved) throw invalidKey(`keys starting with ${reserved} are reserved`);
}

function invalidKey(reason: string): HttpError {
  return new HttpError('invalid_key', `Invalid image key: ${reason}`);
}

/** `w400-h300-q80-cover.webp`; an unset dimension is written `auto`. */
export function variantName(variant: Variant): string {
  const dimension = (value: number | undefined) => (value === undefined ? 'auto' : String(value));
  return `w${dimension(variant.width)}-h${dimension(variant.height)}-q${variant.quality}-${variant.fit}.${variant.format}`;
}

export function derivativeKey(key: string, variant: Variant): string {
  return `${key}/${variantName(variant)}`;
}

/** Every derivative of `key` lives under this prefix. */
export function derivativePrefix(key: string): string {
  return `${key}/`;
}

const VARIANT_PATTERN = /^w(auto|\d+)-h(auto|\d+)-q(\d+)-([a-z]+)\.(webp|avif|jpeg|png|original)$/;

/** The inverse of `derivativeKey`; undefined when the string is not one we wrote. */
export function parseDerivativeKey(derivative: string): { key: string; variant: Variant } | undefined {
  const slash = derivative.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const match = VARIANT_PATTERN.exec(derivative.slice(slash + 1));
  if (!match) return undefined;
  const [, width, height, quality, fit, format] = match;
  if (!(FIT_MODES as readonly string[]).includes(fit as string)) return undefined;
  const dimension = (value: string | undefined) =>
    value === 'auto' || value === undefined ? undefined : Number(value);
  return {
    key: derivative.slice(0, slash),
    variant: {
      width: dimension(width),
      height: dimension(height),
      quality: Number(quality),
      fit: fit as FitMode,
      format: format as VariantFormat,
    },
  };
}
