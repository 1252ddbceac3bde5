/**
 * The image URL parameter rules as an interpreter of the
 * parameter table (`params/rule-table.ts`, compiled from the descriptors of
 * `params/registry.ts`): validation and its messages, preset expansion and the
 * canonical form. Three runtimes use it:
 *   - `params.ts` (origin-request, the miss path, tests), which wraps its errors in `HttpError`;
 *   - the viewer-request CloudFront Function (`src/edge/viewer/`), bundled by
 *     esbuild for `cloudfront-js-2.0`, which rewrites every URL to its canonical query;
 *   - the playground (`web/src/variant.ts`), for preset expansion.
 *
 * The table arrives in the `RuleConfig` (the viewer function has it baked in),
 * so this module takes only constants from the registry and is written for
 * CloudFront Functions' runtime: no destructuring, `for…of`, default arguments
 * or array spread (esbuild refuses to build them, see `src/edge/viewer/build.ts`),
 * and only ES5 built-ins (`indexOf`, not `includes`; no `Object.hasOwn`).
 * Stage defaults (quality, fit, gravity) live in `config.ts` and arrive here as a `RuleConfig`.
 */

import { expectedMessage } from './messages.js';
import {
  type FitMode,
  type Gravity,
  NEUTRAL_DPR,
  NEUTRAL_FOCAL_COORDINATE,
  NEUTRAL_FORMAT,
  PRESET_ONLY_PARAMS,
  type Rect,
} from './params/constants.js';
import type { ParamRule } from './params/rule-table.js';
import type { CanonicalParams, ImageParams } from './params/types.js';

export {
  FIT_MODES,
  type FitMode,
  FLIPS,
  type Flip,
  type FocalPoint,
  GRAVITIES,
  type Gravity,
  NEUTRAL,
  PRESET_ONLY_PARAMS,
  REQUESTED_FORMATS,
  type Rect,
  type RequestedFormat,
  ROTATIONS,
  type Rotation,
} from './params/constants.js';
export type { ImageParamName } from './params/registry.js';
export type { ParamRule } from './params/rule-table.js';
export type { CanonicalParams, ImageParams } from './params/types.js';

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
  /** The parameter table, in the canonical query's order (`PARAM_RULES`). */
  params: readonly ParamRule[];
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

function expected(param: string, what: string, received: string): never {
  return fail(param, expectedMessage(param, what, received));
}

function has(list: readonly unknown[], value: unknown): boolean {
  return list.indexOf(value) !== -1;
}

/** The rule of an image parameter; undefined for any other query parameter. */
function ruleOf(cfg: RuleConfig, name: string): ParamRule | undefined {
  for (let i = 0; i < cfg.params.length; i++) if ((cfg.params[i] as ParamRule).param === name) return cfg.params[i];
  return undefined;
}

/** A pipeline step's `Variant` field (`true`: the parameter's own name). */
function fieldOf(rule: ParamRule): string {
  return rule.field === true ? rule.param : (rule.field as string);
}

const RECT = 'x,y,w,h of integers (w and h at least 1)';
const COLOUR = 'hex colour rgb, rgba, rrggbb or rrggbbaa';

/** Validates one parameter's value by its rule; every value is checked, even one that folds away later. */
function parseValue(rule: ParamRule, raw: string, cfg: RuleConfig): unknown {
  const name = rule.param;
  const kind = rule.kind;
  if (kind === 'integer' || kind === 'decimal') {
    const lowest = rule.lowest as number;
    const highest = rule.highest === 'maxDimension' ? cfg.maxDimension : (rule.highest as number);
    const value = Number(raw);
    const integer = kind === 'integer';
    const pattern = integer ? /^\d{1,9}$/ : new RegExp('^\\d{1,9}(\\.\\d{1,' + rule.decimals + '})?$');
    // At most `decimals` decimals too; sharp's wording keeps the message short.
    if (!pattern.test(raw) || value < lowest || value > highest) {
      expected(name, (integer ? 'integer' : 'number') + ' between ' + lowest + ' and ' + highest, raw);
    }
    return value;
  }
  if (kind === 'choice') {
    const choices = rule.choices as readonly (string | number)[];
    for (let i = 0; i < choices.length; i++) if (String(choices[i]) === raw) return choices[i];
    return expected(name, 'one of ' + choices.join(', '), raw);
  }
  if (kind === 'colour') return colour(name, raw);
  if (kind === 'rect') return rect(name, raw);
  // A preset, by name: among the stage's own names (`constructor` is not a preset).
  const names = Object.keys(cfg.presets);
  if (names.indexOf(raw) === -1) {
    expected(name, names.length ? 'one of ' + names.join(', ') : 'a preset (this stage defines none)', raw);
  }
  return raw;
}

/** `rgb`, `rgba`, `rrggbb` or `rrggbbaa`, any case → `rrggbbaa` lower case. */
function colour(param: string, raw: string): string {
  if (!/^([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(raw)) expected(param, COLOUR, raw);
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
  if (parts.length !== 4) expected(param, RECT, raw);
  const numbers: number[] = [];
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!/^\d{1,9}$/.test(part) || (i >= 2 && Number(part) < 1)) expected(param, RECT, raw);
    numbers.push(Number(part));
  }
  return {
    x: numbers[0] as number,
    y: numbers[1] as number,
    width: numbers[2] as number,
    height: numbers[3] as number,
  };
}

/** A value as the canonical query writes it. */
function queryText(value: unknown): string {
  const r = value as Rect;
  return typeof value === 'object' ? r.x + ',' + r.y + ',' + r.width + ',' + r.height : String(value);
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

/**
 * Decoded pairs by name: of the image parameters (`cfg`'s table) or of all
 * (null: what a signature covers). A repeated one is ambiguous (CloudFront, S3
 * and we could disagree).
 */
export function paramsByName(pairs: Array<[string, string]>, cfg: RuleConfig | null): Record<string, string> {
  const byName: Record<string, string> = Object.create(null);
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as [string, string];
    if (cfg && !ruleOf(cfg, pair[0])) continue;
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
  return parseParamsWith(pairs, cfg, cfg.presetPolicy === 'only' ? requirePresetOnly : null, expandPreset);
}

/** What `presetPolicy: only` adds to parsing (`requirePresetOnly`): a function, so a bundle can leave it out. */
export type PresetOnlyCheck = (names: string[], own: ImageParams, cfg: RuleConfig) => void;
/** A URL's parameters over its preset's (`expandPreset`): a function, so a bundle can leave it out. */
export type PresetExpansion = (own: ImageParams, cfg: RuleConfig) => ImageParams;

/**
 * `parseParams` with the stage's preset-only check (null: `presetPolicy:
 * open`) and preset expansion (null: the stage defines no preset, so no URL
 * can name one) given, so the viewer function of a stage carries only what it uses.
 */
export function parseParamsWith(
  pairs: Array<[string, string]>,
  cfg: RuleConfig,
  presetOnly: PresetOnlyCheck | null,
  expand: PresetExpansion | null,
): ImageParams {
  const byName = paramsByName(pairs, cfg);
  const own = parseAll(byName, cfg, null);
  if (presetOnly) presetOnly(Object.keys(byName), own, cfg);
  const params = expand && own.preset != null ? expand(own, cfg) : own;
  if ((params.fx != null || params.fy != null) && params.gravity != null && params.gravity !== 'focal') {
    expected('gravity', 'focal (or none) with fx and fy', params.gravity);
  }
  return params;
}

/** The URL overrides its preset; a URL's gravity or focal point replaces the preset's whole crop choice. */
export function expandPreset(own: ImageParams, cfg: RuleConfig): ImageParams {
  const fromPreset = presetParams(own.preset as string, cfg);
  if (own.gravity != null) {
    fromPreset.fx = undefined;
    fromPreset.fy = undefined;
  }
  if (own.fx != null || own.fy != null) fromPreset.gravity = undefined;
  return merge(fromPreset, own);
}

/** Under `presetPolicy: only`: preset, format and dpr alone, and a preset on every URL (the stage's default if it has one). */
export function requirePresetOnly(names: string[], own: ImageParams, cfg: RuleConfig): void {
  const why =
    ' here: this stage takes only preset, format and dpr (presets: ' +
    (Object.keys(cfg.presets).join(', ') || 'none defined') +
    ')';
  for (let i = 0; i < names.length; i++) {
    if (!has(PRESET_ONLY_PARAMS, names[i] as string))
      fail(names[i] as string, 'Parameter ' + names[i] + ' is not allowed' + why);
  }
  // A preset may carry what every answer must have (a watermark): no URL goes without one.
  if (own.preset == null) {
    if (cfg.defaultPreset == null) fail('preset', 'Parameter preset is required' + why);
    own.preset = cfg.defaultPreset;
  }
}

/** Parses every parameter of `byName` by its rule; `preset` names the preset they come from, if they do. */
function parseAll(byName: Record<string, string>, cfg: RuleConfig, preset: string | null): ImageParams {
  const params: Record<string, unknown> = {};
  const names = Object.keys(byName);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (preset != null && name === 'preset') fail('preset', 'Preset ' + preset + ' names another preset');
    params[name] = parseValue(ruleOf(cfg, name) as ParamRule, byName[name] as string, cfg);
  }
  return params as ImageParams;
}

/** A preset's own parameters; a preset names no other preset. */
function presetParams(name: string, cfg: RuleConfig): ImageParams {
  return parseAll(paramsByName(decodeQuery(cfg.presets[name] as string), cfg), cfg, name);
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
  const dpr = params.dpr == null ? NEUTRAL_DPR : params.dpr;
  let width = scaleByDpr('width', params.width, dpr, cfg.maxDimension);
  const height = scaleByDpr('height', params.height, dpr, cfg.maxDimension);
  if (width != null) width = applyWidthPolicy(width, cfg);
  const format = params.format == null ? NEUTRAL_FORMAT : params.format;
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
        x: params.fx == null ? NEUTRAL_FOCAL_COORDINATE : params.fx,
        y: params.fy == null ? NEUTRAL_FOCAL_COORDINATE : params.fy,
      };
    } else {
      const gravity = params.gravity == null ? cfg.defaultGravity : params.gravity;
      if (gravity !== 'focal') canonical.gravity = gravity;
    }
  }
  // The pipeline steps: copied under their variant field, unless neutral.
  const target = canonical as unknown as Record<string, unknown>;
  const source = params as Record<string, unknown>;
  for (let i = 0; i < cfg.params.length; i++) {
    const rule = cfg.params[i] as ParamRule;
    const value = source[rule.param];
    if (rule.field != null && value != null && value !== rule.neutral) target[fieldOf(rule)] = value;
  }
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
  if (c.format !== NEUTRAL_FORMAT) add('format', c.format);
  if (c.focal != null) {
    add('fx', c.focal.x);
    add('fy', c.focal.y);
  } else if (c.width != null && c.height != null && (c.fit === 'cover' || c.fit === 'contain')) {
    const gravity = c.gravity == null ? 'focal' : c.gravity;
    if (gravity !== cfg.defaultGravity) add('gravity', gravity);
  }
  // The pipeline steps, in the table's order.
  const values = c as unknown as Record<string, unknown>;
  for (let i = 0; i < cfg.params.length; i++) {
    const rule = cfg.params[i] as ParamRule;
    const value = rule.field == null ? null : values[fieldOf(rule)];
    if (value != null) add(rule.param, queryText(value));
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
  if (params.format != null && params.format !== NEUTRAL_FORMAT) parts.push('format=' + params.format);
  const sized = params.width != null || params.height != null;
  if (sized && params.dpr != null && params.dpr !== NEUTRAL_DPR) parts.push('dpr=' + params.dpr);
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
  // Media types and parameter names are case-insensitive: lower case once.
  const ranges = accept.toLowerCase().split(',');
  for (let i = 0; i < ranges.length; i++) {
    const parts = (ranges[i] as string).split(';');
    const type = (parts[0] as string).trim();
    let q = 1;
    for (let j = 1; j < parts.length; j++) {
      const option = (parts[j] as string).trim();
      if (option.indexOf('q=') === 0) q = Number(option.slice(2));
    }
    if (!(q > 0)) continue;
    if (type === 'image/avif') avif = true;
    if (type === 'image/webp') webp = true;
  }
  if (avif && autoAvif) return 'image/avif';
  return webp ? 'image/webp' : '*/*';
}
