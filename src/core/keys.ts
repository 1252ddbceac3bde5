/**
 * Image keys and derivative keys. A derivative key is
 * `<key>/<variant>`, e.g. `photos/cat.jpg/w400-h300-q80-cover.webp`; it names
 * every output-affecting value, so it can be parsed back into the job and a
 * key's derivatives are exactly the prefix `<key>/`.
 */
import { HttpError } from './errors.js';
import { FIT_MODES, type FitMode, GRAVITIES, type Gravity, RESIZE_ORDER, type Rect, STEPS } from './params/registry.js';
import type { Variant, VariantFormat } from './params.js';

export const MAX_KEY_LENGTH = 512;
/** Route and playground prefixes; an image key may not start with them. */
export const RESERVED_KEY_PREFIXES = ['api/', 'originals/', '_'] as const;
/**
 * The one `_` prefix an image key may start with: `edge-resizer smoke` keeps
 * everything it creates there, apart from every key a user can choose.
 */
export const SMOKE_KEY_PREFIX = '_smoke/';

/**
 * The playground's files live in the derivatives bucket under this prefix and
 * reach the image behaviour as the distribution's default root object, so the
 * edge handlers let them through untouched.
 */
export const PLAYGROUND_PATH_PREFIX = '/_playground/';

const KEY_CHARS = /^[A-Za-z0-9._\-/]+$/;

/**
 * Validates an image key given as it appears in the URL path after the leading
 * `/`: percent-encoding is decoded once, then the key rules apply.
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
  if (reserved && !key.startsWith(SMOKE_KEY_PREFIX)) throw invalidKey(`keys starting with ${reserved} are reserved`);
}

function invalidKey(reason: string): HttpError {
  return new HttpError('invalid_key', `Invalid image key: ${reason}`);
}

/**
 * The format token, after the last `.` of a variant name. Negotiated and
 * explicit formats never share one, because a negotiated class may answer a
 * smaller format than it names while `format=webp` is always
 * WebP. Derivatives stored before negotiated AVIF existed keep their keys: `format=auto`
 * with a WebP `Accept` was `.webp` and without it `.original`, so those two
 * tokens stay with the negotiated classes; negotiated AVIF is new
 * (`.auto-avif`), and explicit `format=webp`, which used to share `.webp`,
 * becomes `.format-webp`. Explicit AVIF, JPEG and PNG keep their tokens.
 */
const FORMAT_TOKENS: Record<VariantFormat, string> = {
  'auto-webp': 'webp',
  original: 'original',
  'auto-avif': 'auto-avif',
  webp: 'format-webp',
  avif: 'avif',
  jpeg: 'jpeg',
  png: 'png',
};

/** `top-left` → `gtopleft`: a variant name's parts are separated by `-`. */
const gravityToken = (gravity: Gravity) => `g${gravity.replace('-', '')}`;

type Step = (typeof STEPS)[number];

/** A step's value as its key part writes it: `rect10_20_300_200`, `blur2.5`. */
function keyText(value: unknown): string {
  if (typeof value !== 'object') return String(value);
  const r = value as Rect;
  return `${r.x}_${r.y}_${r.width}_${r.height}`;
}

/** The placement's part: `-g<gravity>` or `-fp<x>_<y>`, at the resize's place in the order of operations. */
function placementPart(variant: Variant): string | undefined {
  if (variant.focal) return `fp${variant.focal.x}_${variant.focal.y}`;
  if (variant.gravity !== undefined && variant.gravity !== 'focal') return gravityToken(variant.gravity);
  return undefined;
}

/**
 * `w400-h300-q80-cover.webp`: an unset dimension is written `auto`; the
 * pipeline steps (`params/registry.ts`) follow only when not neutral, in the
 * order they apply, each its token then its value (`-rect<x>_<y>_<w>_<h>`,
 * `-trim<t>`, `-rot<deg>`, `-flip<h|v|hv>`, `-blur<sigma>`, `-sharpen<sigma>`,
 * `-bg<rrggbbaa>`), with `-g<gravity>` or `-fp<x>_<y>` at the resize. So a URL
 * without them names the key it always named.
 */
export function variantName(variant: Variant): string {
  const dimension = (value: number | undefined) => (value === undefined ? 'auto' : String(value));
  const parts = [`w${dimension(variant.width)}`, `h${dimension(variant.height)}`, `q${variant.quality}`, variant.fit];
  const values = variant as unknown as Record<string, unknown>;
  let placed = false;
  for (const step of STEPS) {
    if (!placed && step.variant.order > RESIZE_ORDER) {
      const placement = placementPart(variant);
      if (placement) parts.push(placement);
      placed = true;
    }
    const value = values[step.variant.field];
    if (value !== undefined) parts.push(step.variant.token + keyText(value));
  }
  if (!placed) {
    const placement = placementPart(variant);
    if (placement) parts.push(placement);
  }
  return `${parts.join('-')}.${FORMAT_TOKENS[variant.format]}`;
}

export function derivativeKey(key: string, variant: Variant): string {
  return `${key}/${variantName(variant)}`;
}

/** Every derivative of `key` lives under this prefix. */
export function derivativePrefix(key: string): string {
  return `${key}/`;
}

const BASE_PATTERN = /^w(auto|\d+)-h(auto|\d+)-q(\d+)-([a-z]+)$/;
const NUMBER = /^\d+(\.\d+)?$/;
const INTEGER = /^\d+$/;

/** A step's value read back from its key text; undefined when it is not a value we write. */
function readValue(step: Step, text: string): unknown {
  switch (step.kind) {
    case 'rect': {
      const numbers = text.split('_');
      if (numbers.length !== 4 || !numbers.every((n) => INTEGER.test(n))) return undefined;
      return { x: Number(numbers[0]), y: Number(numbers[1]), width: Number(numbers[2]), height: Number(numbers[3]) };
    }
    case 'choice': {
      const choice = (step.choices as readonly (string | number)[]).find((c) => String(c) === text);
      return choice === ('neutral' in step ? step.neutral : undefined) ? undefined : choice;
    }
    case 'colour':
      return /^[0-9a-f]{8}$/.test(text) ? text : undefined;
    default:
      return NUMBER.test(text) ? Number(text) : undefined;
  }
}

/** Reads one part after the base of a variant name into `variant`; false when it is not one we write. */
function readPart(part: string, variant: Variant): boolean {
  const values = variant as unknown as Record<string, unknown>;
  // The longest token that starts the part: a token may start another one.
  let step: Step | undefined;
  for (const s of STEPS)
    if (part.startsWith(s.variant.token) && (!step || s.variant.token.length > step.variant.token.length)) step = s;
  if (step) {
    const value = readValue(step, part.slice(step.variant.token.length));
    if (value === undefined) return false;
    values[step.variant.field] = value;
    return true;
  }
  if (part.startsWith('fp')) {
    const numbers = part.slice(2).split('_');
    if (numbers.length !== 2 || !numbers.every((n) => NUMBER.test(n))) return false;
    variant.focal = { x: Number(numbers[0]), y: Number(numbers[1]) };
    return true;
  }
  const gravity = GRAVITIES.find((g) => gravityToken(g) === part);
  if (gravity === undefined || gravity === 'focal') return false;
  variant.gravity = gravity;
  return true;
}

/** The inverse of `derivativeKey`; undefined when the string is not one we wrote. */
export function parseDerivativeKey(derivative: string): { key: string; variant: Variant } | undefined {
  const slash = derivative.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const name = derivative.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  if (dot === -1) return undefined;
  const token = name.slice(dot + 1);
  const format = (Object.keys(FORMAT_TOKENS) as VariantFormat[]).find((f) => FORMAT_TOKENS[f] === token);
  if (format === undefined) return undefined;
  const parts = name.slice(0, dot).split('-');
  const base = BASE_PATTERN.exec(parts.slice(0, 4).join('-'));
  if (!base || !(FIT_MODES as readonly string[]).includes(base[4] as string)) return undefined;
  const dimension = (value: string | undefined) =>
    value === 'auto' || value === undefined ? undefined : Number(value);
  const variant: Variant = {
    width: dimension(base[1]),
    height: dimension(base[2]),
    quality: Number(base[3]),
    fit: base[4] as FitMode,
    format,
  };
  for (const part of parts.slice(4)) if (!readPart(part, variant)) return undefined;
  // One spelling per variant: anything we would not have written (order, `0400`) is not ours.
  if (variantName(variant) !== name) return undefined;
  return { key: derivative.slice(0, slash), variant };
}
