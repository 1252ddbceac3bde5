/**
 * The pure part of the playground: image URL parameters, expected output size,
 * srcset snippets, Server-Timing parsing and number formatting. No DOM here, so
 * the mocha tests import it directly.
 */

import { DEFAULT_CONFIG } from '../../src/core/config.js';
import {
  FIT_MODES,
  type FitMode,
  IMAGE_PARAM_NAMES,
  NEUTRAL,
  RANGES,
  REQUESTED_FORMATS,
  type RequestedFormat,
} from '../../src/core/param-rules.js';

// Names, values and defaults come from the server's own rules (src/core/param-rules.ts
// and the default stage of src/core/config.ts), so the playground cannot drift from them.
export const FITS = FIT_MODES;
export type Fit = FitMode;
export const FORMATS = REQUESTED_FORMATS;
export type Format = RequestedFormat;
export { IMAGE_PARAM_NAMES, RANGES };

/** The server's defaults (CONTRACT.md §3); a URL leaves these out. */
export const DEFAULT_QUALITY = DEFAULT_CONFIG.defaultQuality;
export const DEFAULT_FIT: Fit = DEFAULT_CONFIG.defaultFit;
export const DEFAULT_FORMAT: Format = NEUTRAL.format;
export const DEFAULT_DPR = NEUTRAL.dpr;
export const MAX_DIMENSION = DEFAULT_CONFIG.limits.maxDimension;

/** Widths offered in the responsive snippet, each capped at the original's width. */
export const DEFAULT_SRCSET_WIDTHS = [320, 640, 960, 1280, 1920] as const;

/** The `Accept` an `<img>` sends in Chromium, so `format=auto` previews what a page would get. */
export const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';

export interface VariantParams {
  /** CSS pixels; undefined means the original's. */
  width?: number;
  height?: number;
  fit: Fit;
  format: Format;
  quality: number;
  dpr: number;
}

export interface ImageInfo {
  key: string;
  width: number;
  height: number;
}

export const defaultParams = (): VariantParams => ({
  fit: DEFAULT_FIT,
  format: DEFAULT_FORMAT,
  quality: DEFAULT_QUALITY,
  dpr: DEFAULT_DPR,
});

/** The path of an image key, each segment encoded (keys are plain ASCII, so this is a no-op in practice). */
export function keyPath(key: string): string {
  return `/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * The image URL path and query for `params`, defaults left out so the URL a
 * designer copies is as short as the server allows (both forms give the same
 * cache key, CONTRACT.md §3).
 */
export function variantUrl(key: string, params: VariantParams): string {
  const query = new URLSearchParams();
  if (params.width !== undefined) query.set('width', String(params.width));
  if (params.height !== undefined) query.set('height', String(params.height));
  if (params.fit !== DEFAULT_FIT && (params.width !== undefined || params.height !== undefined)) {
    query.set('fit', params.fit);
  }
  if (params.format !== DEFAULT_FORMAT) query.set('format', params.format);
  if (params.quality !== DEFAULT_QUALITY) query.set('quality', String(params.quality));
  if (params.dpr !== DEFAULT_DPR) query.set('dpr', String(params.dpr));
  const qs = query.toString();
  return qs ? `${keyPath(key)}?${qs}` : keyPath(key);
}

/**
 * The size the server should answer with, in device pixels, following sharp's
 * fit modes without enlargement. Used for the placeholder's aspect ratio and the
 * `<img>` snippet before the real image has loaded; the real size wins after.
 */
export function expectedSize(image: ImageInfo, params: VariantParams): { width: number; height: number } {
  const w0 = image.width;
  const h0 = image.height;
  const dpr = params.dpr;
  const W = params.width === undefined ? undefined : Math.round(params.width * dpr);
  const H = params.height === undefined ? undefined : Math.round(params.height * dpr);
  const scaled = (s: number) => ({ width: Math.max(1, Math.round(w0 * s)), height: Math.max(1, Math.round(h0 * s)) });
  if (W === undefined && H === undefined) return scaled(Math.min(1, MAX_DIMENSION / Math.max(w0, h0)));
  if (H === undefined) return scaled(Math.min(1, (W as number) / w0));
  if (W === undefined) return scaled(Math.min(1, H / h0));
  switch (params.fit) {
    case 'inside':
      return scaled(Math.min(1, W / w0, H / h0));
    case 'outside':
      return scaled(Math.min(1, Math.max(W / w0, H / h0)));
    default: {
      // cover, contain and fill give the box; without enlargement the box shrinks to fit the original.
      const s = Math.min(1, w0 / W, h0 / H);
      return { width: Math.max(1, Math.round(W * s)), height: Math.max(1, Math.round(H * s)) };
    }
  }
}

/** Widths for a srcset: each capped at the original's width, duplicates dropped, ascending. */
export function srcsetWidths(imageWidth: number, widths: readonly number[] = DEFAULT_SRCSET_WIDTHS): number[] {
  const capped = widths.filter((w) => Number.isInteger(w) && w > 0).map((w) => Math.min(w, imageWidth));
  return [...new Set(capped)].sort((a, b) => a - b);
}

/** Parses "320, 640 960" into numbers; anything that is not a positive integer is dropped. */
export function parseWidthList(text: string): number[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n <= MAX_DIMENSION);
}

const escapeAttr = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** `<img>` for one variant; width and height in CSS pixels so the browser reserves the space. */
export function imgTag(src: string, cssSize: { width: number; height: number }, alt = ''): string {
  return `<img src="${escapeAttr(src)}" width="${cssSize.width}" height="${cssSize.height}" alt="${escapeAttr(alt)}" loading="lazy" decoding="async">`;
}

export interface SrcsetSnippet {
  widths: number[];
  srcset: string;
  html: string;
}

/**
 * A responsive `<img srcset sizes>` for the current fit, format and quality:
 * one URL per width (`w` descriptors, so `dpr` is left to the browser), the
 * height scaled with the width when both were chosen.
 */
export function srcsetSnippet(
  origin: string,
  image: ImageInfo,
  params: VariantParams,
  options: { widths?: readonly number[]; sizes?: string; alt?: string } = {},
): SrcsetSnippet {
  const widths = srcsetWidths(image.width, options.widths?.length ? options.widths : DEFAULT_SRCSET_WIDTHS);
  const ratio = params.width !== undefined && params.height !== undefined ? params.height / params.width : undefined;
  const urlFor = (w: number) =>
    origin +
    variantUrl(image.key, {
      ...params,
      width: w,
      height: ratio === undefined ? undefined : Math.max(1, Math.round(w * ratio)),
      dpr: 1,
    });
  const srcset = widths.map((w) => `${urlFor(w)} ${w}w`).join(', ');
  // The fallback src: the widest at or under 960 px, a common content width.
  const fallback = [...widths].reverse().find((w) => w <= 960) ?? (widths[0] as number);
  const size = expectedSize(image, {
    ...params,
    width: fallback,
    height: ratio === undefined ? undefined : Math.round(fallback * ratio),
    dpr: 1,
  });
  const sizes = options.sizes?.trim() || '100vw';
  const html =
    `<img src="${escapeAttr(urlFor(fallback))}"\n` +
    `     srcset="${widths.map((w) => `${escapeAttr(urlFor(w))} ${w}w`).join(',\n             ')}"\n` +
    `     sizes="${escapeAttr(sizes)}"\n` +
    `     width="${size.width}" height="${size.height}" alt="${escapeAttr(options.alt ?? '')}" loading="lazy" decoding="async">`;
  return { widths, srcset, html };
}

export interface TimingEntry {
  name: string;
  dur?: number;
  desc?: string;
}

/** Parses a `Server-Timing` header: `fetch;dur=12.3, decrypt;dur=0.4;desc="x"`. */
export function parseServerTiming(header: string | null): TimingEntry[] {
  if (!header) return [];
  const entries: TimingEntry[] = [];
  for (const part of header.split(',')) {
    const [name, ...attrs] = part.split(';').map((s) => s.trim());
    if (!name) continue;
    const entry: TimingEntry = { name };
    for (const attr of attrs) {
      const eq = attr.indexOf('=');
      if (eq < 0) continue;
      const key = attr.slice(0, eq).trim().toLowerCase();
      const value = attr
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (key === 'dur' && Number.isFinite(Number(value))) entry.dur = Number(value);
      if (key === 'desc') entry.desc = value;
    }
    entries.push(entry);
  }
  return entries;
}

/** "Hit from cloudfront" → hit, "Miss from cloudfront" → miss, the rest as sent. */
export function cacheStatus(xCache: string | null): 'hit' | 'miss' | 'unknown' {
  if (!xCache) return 'unknown';
  if (/^hit\b/i.test(xCache) || /refreshhit/i.test(xCache)) return 'hit';
  if (/^miss\b/i.test(xCache)) return 'miss';
  return 'unknown';
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}

/** How much smaller `b` is than `a`, in percent of `a` (negative when larger). */
export function savingPercent(a: number, b: number): number {
  if (!(a > 0)) return 0;
  return ((a - b) / a) * 100;
}

/** "image/webp" → "WebP". */
export function formatLabel(contentType: string | null): string {
  const subtype =
    (contentType ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase()
      .replace(/^image\//, '') ?? '';
  const names: Record<string, string> = {
    jpeg: 'JPEG',
    png: 'PNG',
    webp: 'WebP',
    avif: 'AVIF',
    gif: 'GIF',
    tiff: 'TIFF',
  };
  return names[subtype] ?? (subtype || 'unknown');
}
