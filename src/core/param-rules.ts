/**
 * The one source of the image URL parameter rules (CONTRACT.md §3): names,
 * values, neutral values, validation messages, preset expansion and the
 * canonical form. Three runtimes use it:
 *   - `params.ts` (origin-request, the miss path, tests), which wraps its errors in `HttpError`;
 *   - the viewer-request CloudFront Function (`src/edge/viewer/`), bundled by
 *     esbuild for `cloudfront-js-2.0`, which rewrites every URL to its canonical query;
 *   - the playground (`web/src/variant.ts`), for names, ranges and neutral values.
 *
 * So this module imports nothing and is written for CloudFront Functions'
 * runtime: no destructuring, `for…of`, default arguments or array spread
 * (esbuild refuses to build them, see `src/edge/viewer/build.ts`), and only
 * ES5 built-ins (`indexOf`, not `includes`). Stage defaults (quality, fit,
 * gravity) live in `config.ts` and arrive here as a `RuleConfig`.
 */

export type FitMode = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
export const FIT_MODES: readonly FitMode[] = ['cover', 'contain', 'fill', 'inside', 'outside'];
export const REQUESTED_FORMATS = ['auto', 'webp', 'avif', 'jpeg', 'png'] as const;
export type RequestedFormat = (typeof REQUESTED_FORMATS)[number];

/** Where a crop keeps the image, or where `contain` places it in its padding. */
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
export const FLIPS = ['h', 'v', 'hv'] as const;
export type Flip = (typeof FLIPS)[number];
export const ROTATIONS = [0, 90, 180, 270] as const;
export type Rotation = (typeof ROTATIONS)[number];

/** The query parameters that shape a derivative; every other parameter is ignored (and dropped at the edge). */
export const IMAGE_PARAM_NAMES = [
  'width',
  'height',
  'quality',
  'fit',
  'format',
  'dpr',
  'gravity',
  'fx',
  'fy',
  'rect',
  'rotate',
  'flip',
  'blur',
  'sharpen',
  'bg',
  'trim',
  'preset',
] as const;
export type ImageParamName = (typeof IMAGE_PARAM_NAMES)[number];
/** What a URL may carry besides `preset` under `presetPolicy: only`. */
export const PRESET_ONLY_PARAMS: readonly ImageParamName[] = ['preset', 'format', 'dpr'];

/** Ranges of §3, for validation and for the playground's controls. */
export const RANGES = {
  quality: { min: 1, max: 100 },
  dpr: { min: 1, max: 4, decimals: 2 },
  focal: { min: 0, max: 1, decimals: 3 },
  blur: { min: 0.3, max: 100, decimals: 1 },
  sharpen: { min: 0.5, max: 10, decimals: 1 },
  trim: { min: 1, max: 100 },
} as const;

/** Values that change nothing: written or left off, the same derivative. */
export const NEUTRAL = {
  format: 'auto' as RequestedFormat,
  dpr: 1,
  rotate: 0 as Rotation,
  /** `rrggbbaa`: opaque white, what a page most likely is. */
  background: 'ffffffff',
  /** A focal point's missing coordinate. */
  focalCoordinate: 0.5,
} as const;

/** The stage settings the rules depend on (a slice of `EdgeResizerConfig`, baked into the viewer function). */
export interface RuleConfig {
  maxDimension: number;
  defaultQuality: number;
  defaultFit: FitMode;
  defaultGravity: Gravity;
  /** Ascending; empty means any width. */
  allowedWidths: number[];
  widthPolicy: 'reject' | 'snap';
  presets: Record<string, string>;
  presetPolicy: 'open' | 'only';
  /** Under `presetPolicy: only`, the preset a URL without one gets; null: such a URL is refused. */
  defaultPreset: string | null;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FocalPoint {
  x: number;
  y: number;
}

/** Parameters as the URL (and its preset) wrote them, validated, before canonicalization. */
export interface ImageParams {
  width?: number;
  height?: number;
  quality?: number;
  fit?: FitMode;
  format?: RequestedFormat;
  dpr?: number;
  gravity?: Gravity;
  fx?: number;
  fy?: number;
  rect?: Rect;
  rotate?: Rotation;
  flip?: Flip;
  blur?: number;
  sharpen?: number;
  /** `rrggbbaa`, lower case. */
  bg?: string;
  trim?: number;
  /** The preset the URL named (already expanded into the fields above). */
  preset?: string;
}

/**
 * The canonical form: dpr folded into pixels, the width policy applied, values
 * that cannot matter folded away, neutral values absent. Two URLs name the same
 * derivative iff these are equal (and their negotiated formats are).
 */
export interface CanonicalParams {
  width?: number;
  height?: number;
  quality: number;
  fit: FitMode;
  format: RequestedFormat;
  /** Only where a crop or padding happens; absent means `focal` (the stored point, else the centre). */
  gravity?: Exclude<Gravity, 'focal'>;
  /** An explicit focal point (`fx`/`fy`), only where a crop or padding happens. */
  focal?: FocalPoint;
  rect?: Rect;
  trim?: number;
  rotate?: Exclude<Rotation, 0>;
  flip?: Flip;
  blur?: number;
  sharpen?: number;
  background?: string;
}

/** A bad parameter: the adapters answer 400 `invalid_param` with this message. */
export interface ParamError extends Error {
  param: string;
}

export function isParamError(error: unknown): error is ParamError {
  return error instanceof Error && typeof (error as ParamError).param === 'string';
}

function fail(param: string, message: string): never {
  const error = new Error(message) as ParamError;
  error.param = param;
  throw error;
}

/** sharp's wording: "Expected integer between 1 and 4096 for width but received 'abc'". */
function expected(param: string, what: string, received: string): never {
  const shown = received.length > 40 ? received.slice(0, 40) + '…' : received;
  return fail(param, 'Expected ' + what + ' for ' + param + " but received '" + shown + "'");
}

function has(list: readonly string[], value: string): boolean {
  return list.indexOf(value) !== -1;
}

function integer(param: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || value < min || value > max) {
    expected(param, 'integer between ' + min + ' and ' + max, raw);
  }
  return value;
}

function decimal(param: string, raw: string, range: { min: number; max: number; decimals: number }): number {
  const value = Number(raw);
  const pattern = new RegExp('^\\d{1,9}(\\.\\d{1,' + range.decimals + '})?$');
  if (!pattern.test(raw) || value < range.min || value > range.max) {
    // At most `decimals` decimals too; sharp's wording keeps the message short.
    expected(param, 'number between ' + range.min + ' and ' + range.max, raw);
  }
  return value;
}

function choice<T extends string>(param: string, raw: string, choices: readonly T[]): T {
  if (!has(choices, raw)) expected(param, 'one of ' + choices.join(', '), raw);
  return raw as T;
}

/** `rgb`, `rgba`, `rrggbb` or `rrggbbaa`, any case → `rrggbbaa` lower case. */
function colour(param: string, raw: string): string {
  if (!/^([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(raw)) {
    expected(param, 'hex colour rgb, rgba, rrggbb or rrggbbaa', raw);
  }
  let hex = raw.toLowerCase();
  if (hex.length <= 4) {
    let long = '';
    for (let i = 0; i < hex.length; i++) long += hex.charAt(i) + hex.charAt(i);
    hex = long;
  }
  return hex.length === 6 ? hex + 'ff' : hex;
}

function rect(param: string, raw: string): Rect {
  const parts = raw.split(',');
  const what = 'x,y,w,h of integers (w and h at least 1)';
  if (parts.length !== 4) expected(param, what, raw);
  const numbers: number[] = [];
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!/^\d{1,9}$/.test(part) || (i >= 2 && Number(part) < 1)) expected(param, what, raw);
    numbers.push(Number(part));
  }
  return {
    x: numbers[0] as number,
    y: numbers[1] as number,
    width: numbers[2] as number,
    height: numbers[3] as number,
  };
}

/** Validates one parameter's value into `into`; every value is checked, even one that folds away later. */
function parseValue(name: ImageParamName, raw: string, into: ImageParams, cfg: RuleConfig): void {
  switch (name) {
    case 'width':
    case 'height':
      into[name] = integer(name, raw, 1, cfg.maxDimension);
      return;
    case 'quality':
      into.quality = integer(name, raw, RANGES.quality.min, RANGES.quality.max);
      return;
    case 'fit':
      into.fit = choice(name, raw, FIT_MODES);
      return;
    case 'format':
      into.format = choice(name, raw, REQUESTED_FORMATS);
      return;
    case 'dpr':
      into.dpr = decimal(name, raw, RANGES.dpr);
      return;
    case 'gravity':
      into.gravity = choice(name, raw, GRAVITIES);
      return;
    case 'fx':
    case 'fy':
      into[name] = decimal(name, raw, RANGES.focal);
      return;
    case 'rect':
      into.rect = rect(name, raw);
      return;
    case 'rotate':
      into.rotate = Number(choice(name, raw, ['0', '90', '180', '270'])) as Rotation;
      return;
    case 'flip':
      into.flip = choice(name, raw, FLIPS);
      return;
    case 'blur':
      into.blur = decimal(name, raw, RANGES.blur);
      return;
    case 'sharpen':
      into.sharpen = decimal(name, raw, RANGES.sharpen);
      return;
    case 'bg':
      into.bg = colour(name, raw);
      return;
    case 'trim':
      into.trim = integer(name, raw, RANGES.trim.min, RANGES.trim.max);
      return;
    case 'preset':
      if (!Object.hasOwn(cfg.presets, raw)) {
        const names = Object.keys(cfg.presets);
        expected(name, names.length ? 'one of ' + names.join(', ') : 'a preset (this stage defines none)', raw);
      }
      into.preset = raw;
      return;
  }
}

/** Splits `a=1&b=2` into decoded pairs (`+` is a space, as in forms); a malformed escape stays as written. */
export function decodeQuery(query: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '') continue;
    const eq = part.indexOf('=');
    pairs.push([
      decodeComponent(eq === -1 ? part : part.slice(0, eq)),
      decodeComponent(eq === -1 ? '' : part.slice(eq + 1)),
    ]);
  }
  return pairs;
}

export function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch (_error) {
    return value;
  }
}

/** The image parameters of decoded pairs, by name; a repeated one is ambiguous (CloudFront, S3 and we could disagree). */
function imageParamsByName(pairs: Array<[string, string]>): Record<string, string> {
  const byName: Record<string, string> = Object.create(null);
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as [string, string];
    if (!has(IMAGE_PARAM_NAMES, pair[0])) continue;
    if (byName[pair[0]] != null) fail(pair[0], 'Parameter ' + pair[0] + ' is given more than once');
    byName[pair[0]] = pair[1];
  }
  return byName;
}

/**
 * Parses and validates the image parameters of decoded query pairs, expanding
 * `preset` first so the URL's own parameters override the preset's. Unknown
 * parameters are ignored.
 */
export function parseParams(pairs: Array<[string, string]>, cfg: RuleConfig): ImageParams {
  const byName = imageParamsByName(pairs);
  const own: ImageParams = {};
  const names = Object.keys(byName) as ImageParamName[];
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as ImageParamName;
    parseValue(name, byName[name] as string, own, cfg);
  }
  if (cfg.presetPolicy === 'only') {
    for (let i = 0; i < names.length; i++) {
      if (!has(PRESET_ONLY_PARAMS, names[i] as string)) {
        const presets = Object.keys(cfg.presets).join(', ') || 'none defined';
        fail(
          names[i] as string,
          'Parameter ' +
            names[i] +
            ' is not allowed here: this stage takes only preset, format and dpr (presets: ' +
            presets +
            ')',
        );
      }
    }
    // A preset may carry what every answer must have (a watermark): no URL goes without one.
    if (own.preset == null) {
      if (cfg.defaultPreset == null) {
        fail(
          'preset',
          'Parameter preset is required here: this stage takes only preset, format and dpr (presets: ' +
            (Object.keys(cfg.presets).join(', ') || 'none defined') +
            ')',
        );
      }
      own.preset = cfg.defaultPreset;
    }
  }
  let params = own;
  if (own.preset != null) {
    const fromPreset = presetParams(own.preset, cfg);
    // The URL overrides the preset; a URL's gravity or focal point replaces the preset's whole crop choice.
    if (own.gravity != null) {
      fromPreset.fx = undefined;
      fromPreset.fy = undefined;
    }
    if (own.fx != null || own.fy != null) fromPreset.gravity = undefined;
    params = merge(fromPreset, own);
  }
  if ((params.fx != null || params.fy != null) && params.gravity != null && params.gravity !== 'focal') {
    expected('gravity', 'focal (or none) with fx and fy', params.gravity);
  }
  return params;
}

/** A preset's own parameters; a preset names no other preset. */
function presetParams(name: string, cfg: RuleConfig): ImageParams {
  const pairs = decodeQuery(cfg.presets[name] as string);
  const byName = imageParamsByName(pairs);
  const params: ImageParams = {};
  const names = Object.keys(byName) as ImageParamName[];
  for (let i = 0; i < names.length; i++) {
    const param = names[i] as ImageParamName;
    if (param === 'preset') fail('preset', 'Preset ' + name + ' names another preset');
    parseValue(param, byName[param] as string, params, cfg);
  }
  return params;
}

function merge(base: ImageParams, over: ImageParams): ImageParams {
  const merged: ImageParams = {};
  const target = merged as Record<string, unknown>;
  const sources = [base as Record<string, unknown>, over as Record<string, unknown>];
  for (let s = 0; s < 2; s++) {
    const source = sources[s] as Record<string, unknown>;
    const keys = Object.keys(source);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (source[key] != null) target[key] = source[key];
    }
  }
  return merged;
}

/** Folds defaults, `dpr`, the width allow-list and what cannot matter into the canonical form. */
export function canonicalize(params: ImageParams, cfg: RuleConfig): CanonicalParams {
  const dpr = params.dpr == null ? NEUTRAL.dpr : params.dpr;
  let width = scaleByDpr('width', params.width, dpr, cfg.maxDimension);
  const height = scaleByDpr('height', params.height, dpr, cfg.maxDimension);
  if (width != null) width = applyWidthPolicy(width, cfg);
  const format = params.format == null ? NEUTRAL.format : params.format;
  const both = width != null && height != null;
  // With one dimension or none the aspect ratio is kept whatever `fit` says: it folds.
  const fit = both && params.fit != null ? params.fit : cfg.defaultFit;
  // PNG is lossless here: quality would only split the cache.
  const quality = format === 'png' || params.quality == null ? cfg.defaultQuality : params.quality;
  const canonical: CanonicalParams = { width, height, quality, fit, format };
  // Gravity only decides something where a crop (cover) or padding (contain) happens.
  if (both && (fit === 'cover' || fit === 'contain')) {
    if (params.fx != null || params.fy != null) {
      canonical.focal = {
        x: params.fx == null ? NEUTRAL.focalCoordinate : params.fx,
        y: params.fy == null ? NEUTRAL.focalCoordinate : params.fy,
      };
    } else {
      const gravity = params.gravity == null ? cfg.defaultGravity : params.gravity;
      if (gravity !== 'focal') canonical.gravity = gravity;
    }
  }
  const copied = ['rect', 'trim', 'flip', 'blur', 'sharpen'] as const;
  for (let i = 0; i < copied.length; i++) {
    const name = copied[i] as (typeof copied)[number];
    if (params[name] != null) (canonical as unknown as Record<string, unknown>)[name] = params[name];
  }
  if (params.rotate) canonical.rotate = params.rotate;
  if (params.bg != null && params.bg !== NEUTRAL.background) canonical.background = params.bg;
  return canonical;
}

function scaleByDpr(name: string, value: number | undefined, dpr: number, max: number): number | undefined {
  if (value == null) return undefined;
  const scaled = Math.round(value * dpr);
  if (scaled > max)
    fail(name, 'Expected ' + name + ' × dpr at most ' + max + ' but received ' + value + ' × ' + dpr + ' = ' + scaled);
  return scaled;
}

function applyWidthPolicy(width: number, cfg: RuleConfig): number {
  const allowed = cfg.allowedWidths;
  if (allowed.length === 0 || allowed.indexOf(width) !== -1) return width;
  if (cfg.widthPolicy === 'snap') {
    for (let i = 0; i < allowed.length; i++) if ((allowed[i] as number) >= width) return allowed[i] as number;
    return allowed[allowed.length - 1] as number;
  }
  return fail('width', 'Expected width to be one of ' + allowed.join(', ') + ' but received ' + width);
}

/**
 * The canonical query of a canonical form: fixed order, neutral and default
 * values left out, `dpr` folded away. Parsing it gives the same canonical form
 * (under `presetPolicy: open`), so the viewer function can rewrite every URL
 * to it and the cache holds one object per derivative.
 */
export function canonicalQuery(c: CanonicalParams, cfg: RuleConfig): string {
  const parts: string[] = [];
  const add = (name: string, value: string | number) => {
    parts.push(name + '=' + value);
  };
  if (c.width != null) add('width', c.width);
  if (c.height != null) add('height', c.height);
  if (c.quality !== cfg.defaultQuality) add('quality', c.quality);
  if (c.fit !== cfg.defaultFit) add('fit', c.fit);
  if (c.format !== NEUTRAL.format) add('format', c.format);
  if (c.focal != null) {
    add('fx', c.focal.x);
    add('fy', c.focal.y);
  } else if (c.width != null && c.height != null && (c.fit === 'cover' || c.fit === 'contain')) {
    const gravity = c.gravity == null ? 'focal' : c.gravity;
    if (gravity !== cfg.defaultGravity) add('gravity', gravity);
  }
  if (c.rect) add('rect', c.rect.x + ',' + c.rect.y + ',' + c.rect.width + ',' + c.rect.height);
  const simple = [
    ['rotate', c.rotate],
    ['flip', c.flip],
    ['blur', c.blur],
    ['sharpen', c.sharpen],
    ['bg', c.background],
    ['trim', c.trim],
  ] as const;
  for (let i = 0; i < simple.length; i++) {
    const entry = simple[i] as (typeof simple)[number];
    if (entry[1] != null) add(entry[0], entry[1]);
  }
  return parts.join('&');
}

/**
 * Under `presetPolicy: only` a canonical URL keeps its preset (the expansion
 * would be refused): `preset`, `format` and `dpr` in one spelling each, `dpr`
 * folded away where the preset gives no dimension.
 */
export function presetOnlyQuery(params: ImageParams): string {
  const parts: string[] = [];
  if (params.preset != null) parts.push('preset=' + encodeURIComponent(params.preset));
  if (params.format != null && params.format !== NEUTRAL.format) parts.push('format=' + params.format);
  const sized = params.width != null || params.height != null;
  if (sized && params.dpr != null && params.dpr !== NEUTRAL.dpr) parts.push('dpr=' + params.dpr);
  return parts.join('&');
}

/** The three `Accept` values the viewer function leaves, one per negotiated format class. */
export type NormalizedAccept = 'image/avif' | 'image/webp' | '*/*';

/**
 * `Accept` → one normalized value: `image/avif` where AVIF is accepted (q > 0)
 * and the stage's `autoAvif` is on, else `image/webp` where WebP is, else `*∕*`.
 */
export function normalizeAccept(accept: string | undefined, autoAvif: boolean): NormalizedAccept {
  if (!accept) return '*/*';
  let avif = false;
  let webp = false;
  const ranges = accept.split(',');
  for (let i = 0; i < ranges.length; i++) {
    const parts = (ranges[i] as string).split(';');
    const type = (parts[0] as string).trim().toLowerCase();
    let q = 1;
    for (let j = 1; j < parts.length; j++) {
      const option = (parts[j] as string).trim().toLowerCase();
      if (option.indexOf('q=') === 0) q = Number(option.slice(2));
    }
    if (!(q > 0)) continue;
    if (type === 'image/avif') avif = true;
    if (type === 'image/webp') webp = true;
  }
  if (avif && autoAvif) return 'image/avif';
  return webp ? 'image/webp' : '*/*';
}
