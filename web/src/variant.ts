/**
 * The pure part of the playground: image URL parameters, expected output size,
 * srcset snippets, Server-Timing parsing and number formatting. No DOM here, so
 * the mocha tests import it directly.
 */

import { DEFAULT_CONFIG, type StageSettings } from '../../src/core/config.js';
import {
  decodeQuery,
  FIT_MODES,
  type FitMode,
  FLIPS,
  type Flip,
  GRAVITIES,
  type Gravity,
  type ImageParams,
  NEUTRAL,
  PRESET_ONLY_PARAMS,
  parseParams,
  REQUESTED_FORMATS,
  type Rect,
  type RequestedFormat,
  ROTATIONS,
  type Rotation,
  type RuleConfig,
} from '../../src/core/param-rules.js';
import {
  type DecimalDescriptor,
  descriptor,
  IMAGE_PARAM_NAMES,
  type IntegerDescriptor,
  PARAMS,
  type ParamDescriptor,
} from '../../src/core/params/registry.js';
import { PARAM_RULES } from '../../src/core/params/rule-table.js';
import { fittedSize, turnedSize } from '../../src/core/pipeline/plan.js';

// Names, values and defaults come from the server's own rules (src/core/param-rules.ts
// and the default stage of src/core/config.ts), so the playground cannot drift from them.
export const FITS = FIT_MODES;
export type Fit = FitMode;
export const FORMATS = REQUESTED_FORMATS;
export type Format = RequestedFormat;
export type { Flip, Gravity, Rect, Rotation };
export { FLIPS, GRAVITIES, IMAGE_PARAM_NAMES, PRESET_ONLY_PARAMS, ROTATIONS };

/** A numeric parameter's range, from its descriptor; `decimals` for a number input's step. */
const range = (d: IntegerDescriptor | DecimalDescriptor) => ({
  min: d.lowest,
  max: d.highest as number,
  decimals: d.kind === 'decimal' ? d.decimals : 0,
});
/** Ranges of the playground's numeric controls. */
export const RANGES = {
  quality: range(descriptor('quality')),
  dpr: range(descriptor('dpr')),
  focal: range(descriptor('fx')),
  blur: range(descriptor('blur')),
  sharpen: range(descriptor('sharpen')),
  trim: range(descriptor('trim')),
};

/** The server's defaults; a URL leaves these out. */
export const DEFAULT_QUALITY = DEFAULT_CONFIG.defaultQuality;
export const DEFAULT_FIT: Fit = DEFAULT_CONFIG.defaultFit;
export const DEFAULT_FORMAT: Format = NEUTRAL.format;
export const DEFAULT_DPR = NEUTRAL.dpr;
export const MAX_DIMENSION = DEFAULT_CONFIG.limits.maxDimension;
export const DEFAULT_GRAVITY: Gravity = DEFAULT_CONFIG.defaultGravity;
export const DEFAULT_ROTATE: Rotation = NEUTRAL.rotate;
/** `rrggbbaa`: the padding and flattening colour a URL leaves out. */
export const DEFAULT_BG = NEUTRAL.background;

export type { StageSettings };

export const DEFAULT_STAGE: StageSettings = {
  presets: DEFAULT_CONFIG.presets,
  presetPolicy: DEFAULT_CONFIG.presetPolicy,
  defaultGravity: DEFAULT_GRAVITY,
  autoAvif: DEFAULT_CONFIG.autoAvif,
  maxDimension: MAX_DIMENSION,
  defaultQuality: DEFAULT_QUALITY,
};

/** Widths offered in the responsive snippet, each capped at the original's width. */
export const DEFAULT_SRCSET_WIDTHS = [320, 640, 960, 1280, 1920] as const;

/** The `Accept` an `<img>` sends in Chromium, so `format=auto` previews what a page would get. */
export const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';

/**
 * The playground's parameters: the URL's (`ImageParams`, from the registry),
 * with the four every variant has filled in. Sizes in CSS pixels; `rect` in
 * the displayed original's pixels; `preset`'s expansion is the baseline the
 * other parameters are written against.
 */
export type VariantParams = Omit<ImageParams, 'fit' | 'format' | 'quality' | 'dpr'> & {
  fit: Fit;
  format: Format;
  quality: number;
  dpr: number;
};

/** The original a variant is made of: its key and displayed size. */
export interface SourceImage {
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

/** The parameters a preset expands to, in the playground's terms (validated by the server's own rules). */
export function presetExpansion(name: string, stage: StageSettings = DEFAULT_STAGE): Partial<VariantParams> {
  const query = stage.presets[name];
  if (query === undefined) return {};
  const rules: RuleConfig = {
    maxDimension: stage.maxDimension,
    defaultQuality: stage.defaultQuality,
    defaultFit: DEFAULT_FIT,
    defaultGravity: stage.defaultGravity,
    allowedWidths: [],
    widthPolicy: 'reject',
    presets: stage.presets,
    presetPolicy: 'open',
    defaultPreset: null,
    params: PARAM_RULES,
  };
  const parsed: ImageParams = parseParams(decodeQuery(query), rules);
  const out: Partial<VariantParams> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (value !== undefined && name !== 'preset') (out as Record<string, unknown>)[name] = value;
  }
  return out;
}

/** Every step's neutral value (`rotate=0`, `bg=ffffffff`, …), from its descriptor: a URL leaves these out. */
const STEP_NEUTRALS: Partial<VariantParams> = Object.fromEntries(
  PARAMS.flatMap((d) => ('variant' in d && 'neutral' in d ? [[d.name, d.neutral]] : [])),
);

/** The values a URL leaves out: the stage's defaults, overridden by the preset's expansion. */
export function baselineParams(preset: string | undefined, stage: StageSettings = DEFAULT_STAGE): VariantParams {
  return {
    ...defaultParams(),
    quality: stage.defaultQuality,
    gravity: stage.defaultGravity,
    ...STEP_NEUTRALS,
    ...(preset === undefined ? {} : presetExpansion(preset, stage)),
  };
}

const rectText = (r: Rect) => `${r.x},${r.y},${r.width},${r.height}`;

/** A value as a URL writes it, shortest: `rect=1,2,3,4`, `bg=ff0000`. */
function urlText(kind: ParamDescriptor['kind'], value: unknown): string {
  if (kind === 'rect') return rectText(value as Rect);
  if (kind === 'colour') return bgText(value as string);
  return String(value);
}

/** `rrggbbaa` → the shortest URL spelling (`rrggbb` when opaque). */
export function bgText(bg: string): string {
  return bg.length === 8 && bg.endsWith('ff') ? bg.slice(0, 6) : bg;
}

/**
 * The image URL path and query for `params`, defaults (and a preset's own
 * values) left out so the URL a designer copies is as short as the server
 * allows (both forms give the same cache key).
 */
export function variantUrl(key: string, params: VariantParams, stage: StageSettings = DEFAULT_STAGE): string {
  const base = baselineParams(params.preset, stage);
  const query = new URLSearchParams();
  if (params.preset !== undefined) query.set('preset', params.preset);
  const differs = <K extends keyof VariantParams>(name: K) => params[name] !== undefined && params[name] !== base[name];
  if (differs('width')) query.set('width', String(params.width));
  if (differs('height')) query.set('height', String(params.height));
  const width = params.width ?? base.width;
  const height = params.height ?? base.height;
  if (differs('fit') && (width !== undefined || height !== undefined)) query.set('fit', params.fit);
  if (differs('format')) query.set('format', params.format);
  if (differs('quality')) query.set('quality', String(params.quality));
  if (differs('dpr')) query.set('dpr', String(params.dpr));
  // fx/fy imply gravity=focal; gravity only matters where a crop or padding happens.
  const focal = params.fx !== undefined || params.fy !== undefined;
  if (focal) {
    if (params.fx !== undefined) query.set('fx', String(params.fx));
    if (params.fy !== undefined) query.set('fy', String(params.fy));
  } else if (differs('gravity')) {
    query.set('gravity', params.gravity as string);
  }
  // The pipeline steps, in the registry's order, each as its kind spells it shortest.
  const values = params as Record<string, unknown>;
  const baseline = base as Record<string, unknown>;
  for (const step of PARAMS) {
    if (!('variant' in step)) continue;
    const value = values[step.name];
    if (value === undefined) continue;
    const text = urlText(step.kind, value);
    if (baseline[step.name] === undefined || text !== urlText(step.kind, baseline[step.name]))
      query.set(step.name, text);
  }
  // `rect=1,2,3,4` reads better than `rect=1%2C2%2C3%2C4`; commas are safe in a query.
  const qs = query.toString().replace(/%2C/g, ',');
  return qs ? `${keyPath(key)}?${qs}` : keyPath(key);
}

/**
 * The size the server should answer with, in device pixels: the server's own
 * geometry (sharp's fit modes without enlargement). Used for the placeholder's aspect ratio and the
 * `<img>` snippet before the real image has loaded; the real size wins after.
 */
export function expectedSize(image: SourceImage, params: VariantParams): { width: number; height: number } {
  // rect cuts first; a quarter turn swaps the sides (trim is unknown until the server looks).
  const cut = {
    width: params.rect ? Math.min(params.rect.width, image.width) : image.width,
    height: params.rect ? Math.min(params.rect.height, image.height) : image.height,
  };
  const device = (css: number | undefined) => (css === undefined ? undefined : Math.round(css * params.dpr));
  const target = { width: device(params.width), height: device(params.height) };
  return fittedSize(turnedSize(cut, params.rotate), target, params.fit, MAX_DIMENSION);
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
  image: SourceImage,
  params: VariantParams,
  options: { widths?: readonly number[]; sizes?: string; alt?: string; stage?: StageSettings } = {},
): SrcsetSnippet {
  // Capped at what the source gives: the rect's (turned) width, not the whole original's.
  const source = expectedSize(image, { ...params, width: undefined, height: undefined, dpr: 1 });
  const widths = srcsetWidths(source.width, options.widths?.length ? options.widths : DEFAULT_SRCSET_WIDTHS);
  const ratio = params.width !== undefined && params.height !== undefined ? params.height / params.width : undefined;
  const urlFor = (w: number) =>
    origin +
    variantUrl(
      image.key,
      {
        ...params,
        width: w,
        height: ratio === undefined ? undefined : Math.max(1, Math.round(w * ratio)),
        dpr: 1,
      },
      options.stage,
    );
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

/**
 * SSIM (Wang et al. 2004) of two RGBA pixel arrays of the same size, on luma
 * (BT.601), over 8×8 windows every 4 pixels, averaged: 1 is identical. The
 * playground scores each format against a lossless PNG of the same variant.
 */
export function ssim(a: Uint8ClampedArray, b: Uint8ClampedArray, width: number, height: number): number {
  if (a.length !== width * height * 4 || b.length !== a.length) throw new Error('ssim: arrays of different sizes');
  const luma = (px: Uint8ClampedArray) => {
    const out = new Float64Array(width * height);
    for (let i = 0; i < out.length; i++) {
      out[i] = 0.299 * (px[i * 4] as number) + 0.587 * (px[i * 4 + 1] as number) + 0.114 * (px[i * 4 + 2] as number);
    }
    return out;
  };
  const x = luma(a);
  const y = luma(b);
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  const win = Math.max(1, Math.min(8, width, height));
  const step = Math.max(1, win >> 1);
  let total = 0;
  let count = 0;
  for (let top = 0; top + win <= height; top += step) {
    for (let left = 0; left + win <= width; left += step) {
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let r = top; r < top + win; r++) {
        for (let c = left; c < left + win; c++) {
          const p = x[r * width + c] as number;
          const q = y[r * width + c] as number;
          sx += p;
          sy += q;
          sxx += p * p;
          syy += q * q;
          sxy += p * q;
        }
      }
      const n = win * win;
      const mx = sx / n;
      const my = sy / n;
      const vx = sxx / n - mx * mx;
      const vy = syy / n - my * my;
      const cov = sxy / n - mx * my;
      total += ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      count += 1;
    }
  }
  return count ? total / count : 1;
}
