/**
 * `edge-resizer/client`: image URLs, srcsets and signed URLs for front-end
 * code (browsers, Node 20+, edge runtimes). Built into one ESM file with no
 * imports: the parameter names and types come from the registry, and the
 * signing message is the edge's own (`signing-message.ts`), both bundled in.
 */
import { IMAGE_PARAM_NAMES, type ImageParamName } from '../core/params/registry.js';
import type { ImageParams } from '../core/params/types.js';
import { rfc3986, signedMessage } from '../core/signing-message.js';

export type { ImageParamName } from '../core/params/registry.js';
export type { ImageParams } from '../core/params/types.js';

/**
 * The registry's parameters in the canonical query's order, so equal
 * parameters make equal URLs: one cache entry. The registry is bundled in
 * (data only), so a new parameter needs no edit here.
 */
export const PARAM_ORDER: readonly ImageParamName[] = IMAGE_PARAM_NAMES;

/** The stage's width rule, for `srcset`, `snapWidth` and the Next.js loader. */
export interface WidthOptions {
  /** The stage's `allowedWidths` (any order); a width is rounded up to the next, capped at the largest, as `widthPolicy: snap` does. */
  allowedWidths?: readonly number[];
}

/** `width` rounded up to the next allowed width, capped at the largest; unchanged without allowed widths. */
export function snapWidth(width: number, allowedWidths?: readonly number[]): number {
  if (!allowedWidths || allowedWidths.length === 0) return width;
  const sorted = [...allowedWidths].sort((a, b) => a - b);
  for (const allowed of sorted) if (allowed >= width) return allowed;
  return sorted[sorted.length - 1] as number;
}

function valueText(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const r = value as { x: number; y: number; width: number; height: number };
    return `${r.x},${r.y},${r.width},${r.height}`;
  }
  return String(value);
}

/** The key as a path: each segment percent-encoded, `/` kept. */
function keyPath(key: string): string {
  return key
    .replace(/^\/+/, '')
    .split('/')
    .map((segment) => rfc3986(segment))
    .join('/');
}

/**
 * The URL of `key`'s image under `base` (the CDN's origin, optionally with a
 * path: `https://cdn.example.com` or `/images`) with `params`, written in
 * the canonical order; an absent or `undefined` parameter is left out.
 */
export function imageUrl(base: string, key: string, params: ImageParams = {}): string {
  const pairs: string[] = [];
  for (const name of PARAM_ORDER) {
    const value = params[name];
    if (value !== undefined && value !== null) pairs.push(`${name}=${rfc3986(valueText(value))}`);
  }
  const url = `${base.replace(/\/+$/, '')}/${keyPath(key)}`;
  return pairs.length > 0 ? `${url}?${pairs.join('&')}` : url;
}

/**
 * A `srcset` of `key` at `widths` (`<url> <w>w`, ascending, each width once
 * after snapping to `allowedWidths`); `params.width` is replaced per candidate.
 */
export function srcset(
  base: string,
  key: string,
  widths: readonly number[],
  params: Omit<ImageParams, 'width'> = {},
  options: WidthOptions = {},
): string {
  const snapped = [...new Set(widths.map((width) => snapWidth(width, options.allowedWidths)))].sort((a, b) => a - b);
  return snapped.map((width) => `${imageUrl(base, key, { ...params, width })} ${width}w`).join(', ');
}

/** One `sizes` entry: the image's width while the viewport is at most `maxWidth` (CSS, e.g. `640px`). */
export interface SizeRule {
  maxWidth: string;
  size: string;
}

/** A `sizes` attribute: `(max-width: 640px) 100vw, 50vw` from the rules, in order, then the default size. */
export function sizes(rules: readonly SizeRule[], fallback: string): string {
  return [...rules.map((rule) => `(max-width: ${rule.maxWidth}) ${rule.size}`), fallback].join(', ');
}

export interface SignOptions {
  /** The stage's signing secret (server-side code only: whoever holds it can sign any URL). */
  secret: string;
  /** The signing key's name (`keys add --kid`); without it the key is `default`. */
  kid?: string;
  /** A unix time in seconds, or a duration from now as `edge-resizer sign --expires` takes it: `30s`, `15m`, `1h`, `7d`. */
  expires: number | string;
  /** The clock, in unix seconds. @default now */
  now?: number;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The unix time `expires` names, as `edge-resizer sign --expires` reads it. */
export function expiryTime(expires: number | string, nowSeconds: number): number {
  if (typeof expires === 'number') {
    if (!Number.isInteger(expires) || expires <= 0) throw new TypeError(`Expected a unix time but received ${expires}`);
    return expires;
  }
  const relative = /^(\d+)([smhd])$/.exec(expires);
  if (relative) return nowSeconds + Number(relative[1]) * (UNIT_SECONDS[relative[2] as string] as number);
  if (/^\d{9,11}$/.test(expires)) return Number(expires);
  throw new TypeError(`Expected expires like 30s, 15m, 1h, 7d or a unix time but received '${expires}'`);
}

function base64url(bytes: ArrayBuffer): string {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * `url` (absolute or a path) with `kid`, `exp` and `sig` appended, the same
 * bytes as `edge-resizer sign` writes: HMAC-SHA256 over the edge's signing
 * message, by WebCrypto (`globalThis.crypto.subtle`).
 */
export async function signUrl(url: string, options: SignOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const expiry = expiryTime(options.expires, now);
  if (expiry <= now) throw new RangeError(`expires ${options.expires} is not in the future: nothing signed`);
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
  const parsed = new URL(url, 'http://signing.invalid');
  const { kid } = options;
  const params: Array<readonly [string, string]> = [...parsed.searchParams].filter(
    ([name]) => name !== 'sig' && name !== 'exp' && (kid === undefined || name !== 'kid'),
  );
  if (kid !== undefined) params.push(['kid', kid]);
  params.push(['exp', String(expiry)]);
  const names = params.map(([name]) => name);
  if (new Set(names).size !== names.length) throw new TypeError('A parameter is given more than once');
  const encoder = new TextEncoder();
  const key = await globalThis.crypto.subtle.importKey(
    'raw',
    encoder.encode(options.secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await globalThis.crypto.subtle.sign('HMAC', key, encoder.encode(signedMessage(parsed.pathname, params)));
  const query = [...params, ['sig', base64url(mac)] as const].map(([n, v]) => `${rfc3986(n)}=${rfc3986(v)}`).join('&');
  const path = `${parsed.pathname}?${query}`;
  return absolute ? `${parsed.origin}${path}` : path;
}
