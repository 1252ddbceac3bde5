/**
 * Image URL parameters (CONTRACT.md §3): parsing, validation, and canonical
 * form. Everything that decides which derivative a URL names lives here, so
 * that "which requests share a cache entry" has one answer.
 */
import type { EdgeResizerConfig, FitMode } from './config.js';
import { HttpError, invalidParam } from './errors.js';

export const FIT_MODES = ['cover', 'contain', 'fill', 'inside', 'outside'] as const satisfies readonly FitMode[];
export const REQUESTED_FORMATS = ['auto', 'webp', 'avif', 'jpeg', 'png'] as const;
export type RequestedFormat = (typeof REQUESTED_FORMATS)[number];
export type OutputFormat = Exclude<RequestedFormat, 'auto'>;

/**
 * What the derivative will be encoded as, decided before the original is read:
 * an explicit `format=` (always that encoder), or a class negotiated by
 * `format=auto` from `Accept`: `auto-avif`, `auto-webp`, or `original` (JPEG/PNG
 * after the original, see `transform.ts`). A negotiated class may answer a
 * smaller format than it names (never more bytes than the JPEG/PNG it
 * replaces), so explicit and negotiated variants never share a derivative key.
 */
export type VariantFormat = OutputFormat | 'original' | 'auto-webp' | 'auto-avif';

/** The query parameters that shape a derivative; every other parameter is ignored. */
export const IMAGE_PARAM_NAMES = ['width', 'height', 'quality', 'fit', 'format', 'dpr'] as const;
export type ImageParamName = (typeof IMAGE_PARAM_NAMES)[number];

/** Where a crop keeps the image, or where `contain` places it in its padding (CONTRACT.md §3). */
export const GRAVITIES = [
  'center',
  'top',
  'bottom',
  'left',
  'right',
  'top-left',
  'top-right',
  'bottom-left',
  'bottom-right',
  'attention',
  'entropy',
  'focal',
] as const;
export type Gravity = (typeof GRAVITIES)[number];

/** A point of the displayed original (after EXIF orientation), as fractions 0..1 of its width and height. */
export interface FocalPoint {
  x: number;
  y: number;
}

/** A region of the displayed original, in its pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Rotation = 0 | 90 | 180 | 270;
export type Flip = 'h' | 'v' | 'hv';

/** Parameters as the user wrote them, validated, before canonicalization. */
export interface ImageParams {
  width?: number;
  height?: number;
  quality?: number;
  fit?: FitMode;
  format?: RequestedFormat;
  dpr?: number;
}

/**
 * A canonical variant: every output-affecting value written out, `dpr` folded into
 * pixels, `format` decided. Two URLs name the same derivative iff their variants are equal.
 */
export interface Variant {
  /** Output width in pixels, or undefined for "from the original". */
  width?: number;
  height?: number;
  quality: number;
  fit: FitMode;
  format: VariantFormat;
  // The fields below are absent when neutral (so a URL without them names the
  // derivative key it named before they existed).
  /** Only where a crop or padding happens; absent means `focal` (the stored point, else the centre). */
  gravity?: Gravity;
  /** An explicit focal point from `fx`/`fy` (implies gravity `focal`); absent: the stored point, else the centre. */
  focal?: FocalPoint;
  /** Cut out first, in the displayed original's pixels. */
  rect?: Rect;
  /** Threshold of `trim`: a border matching the top-left pixel is cut away. */
  trim?: number;
  /** Clockwise, after EXIF orientation; absent means 0. */
  rotate?: Exclude<Rotation, 0>;
  flip?: Flip;
  /** Gaussian sigma in output pixels. */
  blur?: number;
  /** Sigma of sharp's `sharpen`. */
  sharpen?: number;
  /** `rrggbbaa`, lower case; absent means `ffffffff` (white, opaque). */
  background?: string;
}

const MAX_DPR = 4;
const MAX_QUALITY = 100;

/**
 * Parses the image parameters of a query string (`a=1&b=2`, no leading `?`).
 * Unknown parameters are ignored; a repeated known parameter is a 400 because
 * "which one wins" would differ between CloudFront, S3 and us.
 */
export function parseImageParams(query: string, config: EdgeResizerConfig): ImageParams {
  const seen = new Map<ImageParamName, string>();
  for (const [rawName, rawValue] of new URLSearchParams(query)) {
    const name = rawName as ImageParamName;
    if (!(IMAGE_PARAM_NAMES as readonly string[]).includes(name)) continue;
    if (seen.has(name)) throw new HttpError('invalid_param', `Parameter ${name} is given more than once`);
    seen.set(name, rawValue);
  }
  const max = config.limits.maxDimension;
  const params: ImageParams = {};
  const width = seen.get('width');
  if (width !== undefined) params.width = parseInteger('width', width, 1, max);
  const height = seen.get('height');
  if (height !== undefined) params.height = parseInteger('height', height, 1, max);
  const quality = seen.get('quality');
  if (quality !== undefined) params.quality = parseInteger('quality', quality, 1, MAX_QUALITY);
  const fit = seen.get('fit');
  if (fit !== undefined) params.fit = parseChoice('fit', fit, FIT_MODES);
  const format = seen.get('format');
  if (format !== undefined) params.format = parseChoice('format', format, REQUESTED_FORMATS);
  const dpr = seen.get('dpr');
  if (dpr !== undefined) params.dpr = parseDpr(dpr);
  return params;
}

/**
 * Folds defaults, `dpr`, the width allow-list and the negotiated format into one
 * canonical variant. `acceptsWebp` is the viewer's `Accept` after negotiation.
 */
export function canonicalVariant(params: ImageParams, acceptsWebp: boolean, config: EdgeResizerConfig): Variant {
  const dpr = params.dpr ?? 1;
  let width = scaleByDpr('width', params.width, dpr, config.limits.maxDimension);
  const height = scaleByDpr('height', params.height, dpr, config.limits.maxDimension);
  if (width !== undefined) width = applyWidthPolicy(width, config);

  const requested = params.format ?? 'auto';
  const format: VariantFormat = requested === 'auto' ? (acceptsWebp ? 'webp' : 'original') : requested;
  // With one dimension or none the aspect ratio is kept whatever `fit` says, so
  // `fit` is folded to the default and does not split the cache.
  const fit = width !== undefined && height !== undefined ? (params.fit ?? config.defaultFit) : config.defaultFit;
  // PNG is lossless here: quality would only split the cache.
  const quality = format === 'png' ? config.defaultQuality : (params.quality ?? config.defaultQuality);
  return { width, height, quality, fit, format };
}

/** `Accept` → does the viewer take WebP: an `image/webp` media range with a non-zero q. */
export function acceptsWebp(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type, ...options] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type !== 'image/webp') return false;
    const q = options.find((option) => option.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function scaleByDpr(name: string, value: number | undefined, dpr: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const scaled = Math.round(value * dpr);
  if (scaled > max) {
    throw new HttpError(
      'invalid_param',
      `Expected ${name} × dpr at most ${max} but received ${value} × ${dpr} = ${scaled}`,
    );
  }
  return scaled;
}

function applyWidthPolicy(width: number, config: EdgeResizerConfig): number {
  const allowed = config.allowedWidths;
  if (allowed.length === 0 || allowed.includes(width)) return width;
  if (config.widthPolicy === 'snap') return allowed.find((w) => w >= width) ?? (allowed[allowed.length - 1] as number);
  throw new HttpError('invalid_param', `Expected width to be one of ${allowed.join(', ')} but received ${width}`);
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(raw)) throw invalidParam(name, `integer between ${min} and ${max}`, raw);
  const value = Number(raw);
  if (value < min || value > max) throw invalidParam(name, `integer between ${min} and ${max}`, raw);
  return value;
}

function parseChoice<T extends string>(name: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) throw invalidParam(name, `one of ${choices.join(', ')}`, raw);
  return raw as T;
}

function parseDpr(raw: string): number {
  if (!/^\d(\.\d{1,2})?$/.test(raw))
    throw invalidParam('dpr', `number between 1 and ${MAX_DPR} with at most 2 decimals`, raw);
  const value = Number(raw);
  if (value < 1 || value > MAX_DPR)
    throw invalidParam('dpr', `number between 1 and ${MAX_DPR} with at most 2 decimals`, raw);
  return value;
}
