/**
 * The one schema of a stage's settings (CONTRACT.md §2, §3, §5): the fields a
 * stage block of `serverless.yml` and the local `serve --config FILE` (or
 * `EDGE_RESIZER_CONFIG`) may set. Both are checked here, by `esbuild.config.cjs`
 * at `sls package` time and by `edge-resizer serve` at start, so a typo or a bad
 * value fails where it is written instead of silently falling back to a default.
 *
 * Hand-written rather than a JSON Schema library: eight fields, messages in
 * sharp's style ("Expected integer between 1 and 100 for defaultQuality but
 * received '0'"), and no dependency in the core. Pure: no I/O, no environment.
 */
import type { EdgeResizerConfigInput, GravityName, LimitsConfig, PresetPolicy, WidthPolicy } from './config.js';
import { GRAVITIES } from './param-rules.js';

/** Largest `limits.maxDimension` a stage may set: sharp/libvips and Lambda memory stop being sensible past it. */
export const MAX_DIMENSION_CEILING = 16_384;
/** CloudFront gives an origin-response trigger 30 s in all; the miss budget must end before it. */
export const MAX_TRANSFORM_TIMEOUT_MS = 29_000;

// Gravity names have one home, the parameter rules the edge and the playground share.
const GRAVITY_NAMES: readonly GravityName[] = GRAVITIES;
const PRESET_POLICIES = ['open', 'only'] as const satisfies readonly PresetPolicy[];
const WIDTH_POLICIES = ['reject', 'snap'] as const satisfies readonly WidthPolicy[];
/** A preset name as it appears in `?preset=`: URL-safe without encoding. */
const PRESET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The settings a stage may carry, as they are written (every field optional). */
export interface StageSettings {
  presets?: Record<string, string>;
  presetPolicy?: PresetPolicy;
  /** Under `presetPolicy: only`, the preset a URL without one is answered with. */
  defaultPreset?: string;
  autoAvif?: boolean;
  defaultGravity?: GravityName;
  defaultQuality?: number;
  allowedWidths?: number[];
  widthPolicy?: WidthPolicy;
  limits?: Partial<LimitsConfig>;
}

/** The top-level field names of a stage's settings. */
export const STAGE_SETTING_FIELDS = [
  'presets',
  'presetPolicy',
  'defaultPreset',
  'autoAvif',
  'defaultGravity',
  'defaultQuality',
  'allowedWidths',
  'widthPolicy',
  'limits',
] as const satisfies readonly (keyof StageSettings & keyof EdgeResizerConfigInput)[];
export const LIMIT_FIELDS = [
  'maxDimension',
  'maxOriginalBytes',
  'maxInputPixels',
  'transformTimeoutMs',
] as const satisfies readonly (keyof LimitsConfig)[];

/** A setting that breaks the schema; `path` names the field (`limits.maxDimension`, `presets.card`), as does the message. */
export class StageConfigError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'StageConfigError';
  }
}

export interface StageSettingsOptions {
  /**
   * Checks one preset's query string against the URL rules (the caller passes
   * the parameter parser, so this module stays free of it); throws to refuse.
   * `stage` holds every other setting of the file, already checked, so the
   * preset is judged by the stage's own widths, policy and limits.
   */
  checkPreset?: (query: string, name: string, stage: Readonly<StageSettings>) => void;
  /** One source of several that are merged later: skip the checks across fields. @default false */
  partial?: boolean;
}

const own = (object: object, name: string) => Object.hasOwn(object, name);

function describe(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const shown = text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return `'${shown}'`;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new StageConfigError(path, `Expected ${expected} for ${path} but received ${describe(value)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integer(path: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `integer between ${min} and ${max}`, value);
  }
  return value;
}

function choice<T extends string>(path: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    fail(path, `one of ${choices.join(', ')}`, value);
  }
  return value as T;
}

function unknownFields(path: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) {
      const where = path ? `${path}.${name}` : name;
      throw new StageConfigError(where, `${where} is not a stage setting (known: ${known.join(', ')})`);
    }
  }
}

/**
 * Validates a stage's settings and returns them as an `EdgeResizerConfigInput`
 * fragment. Throws a `StageConfigError` naming the first bad field: an unknown
 * name or a value outside its range.
 */
export function parseStageSettings(input: unknown, options: StageSettingsOptions = {}): StageSettings {
  if (!isPlainObject(input)) fail('the stage settings', 'an object', input);
  unknownFields('', input, STAGE_SETTING_FIELDS);
  const settings: StageSettings = {};

  if (own(input, 'limits')) {
    const limits = input.limits;
    if (!isPlainObject(limits)) fail('limits', 'an object', limits);
    unknownFields('limits', limits, LIMIT_FIELDS);
    const parsed: Partial<LimitsConfig> = {};
    if (own(limits, 'maxDimension'))
      parsed.maxDimension = integer('limits.maxDimension', limits.maxDimension, 1, MAX_DIMENSION_CEILING);
    if (own(limits, 'maxOriginalBytes'))
      parsed.maxOriginalBytes = integer('limits.maxOriginalBytes', limits.maxOriginalBytes, 1, Number.MAX_SAFE_INTEGER);
    if (own(limits, 'maxInputPixels'))
      parsed.maxInputPixels = integer('limits.maxInputPixels', limits.maxInputPixels, 1, Number.MAX_SAFE_INTEGER);
    if (own(limits, 'transformTimeoutMs'))
      parsed.transformTimeoutMs = integer(
        'limits.transformTimeoutMs',
        limits.transformTimeoutMs,
        100,
        MAX_TRANSFORM_TIMEOUT_MS,
      );
    settings.limits = parsed;
  }
  const maxDimension = settings.limits?.maxDimension ?? 4096;

  if (own(input, 'defaultQuality')) settings.defaultQuality = integer('defaultQuality', input.defaultQuality, 1, 100);
  if (own(input, 'autoAvif')) {
    if (typeof input.autoAvif !== 'boolean') fail('autoAvif', 'true or false', input.autoAvif);
    settings.autoAvif = input.autoAvif;
  }
  if (own(input, 'defaultGravity'))
    settings.defaultGravity = choice('defaultGravity', input.defaultGravity, GRAVITY_NAMES);
  if (own(input, 'presetPolicy')) settings.presetPolicy = choice('presetPolicy', input.presetPolicy, PRESET_POLICIES);
  if (own(input, 'widthPolicy')) settings.widthPolicy = choice('widthPolicy', input.widthPolicy, WIDTH_POLICIES);

  if (own(input, 'allowedWidths')) {
    const widths = input.allowedWidths;
    if (!Array.isArray(widths)) fail('allowedWidths', 'a list of widths', widths);
    const seen = new Set<number>();
    settings.allowedWidths = widths.map((width, index) => {
      const value = integer(`allowedWidths[${index}]`, width, 1, maxDimension);
      if (seen.has(value)) fail(`allowedWidths[${index}]`, 'each width once', width);
      seen.add(value);
      return value;
    });
  }

  if (own(input, 'presets')) {
    const presets = input.presets;
    if (!isPlainObject(presets)) fail('presets', 'a map of name to query string', presets);
    // Names chosen by whoever wrote the file: kept in a prototype-free object.
    const parsed: Record<string, string> = Object.create(null);
    for (const [name, query] of Object.entries(presets)) {
      const path = `presets.${name}`;
      if (!PRESET_NAME.test(name)) fail('a preset name', 'letters, digits, _ or -, at most 64', name);
      // `__proto__`, `constructor`…: names every JavaScript object already has, which no lookup of `?preset=` can tell apart.
      if (name in Object.prototype) fail('a preset name', 'a name that is not a JavaScript object property', name);
      if (typeof query !== 'string' || query.trim() === '')
        fail(path, 'a query string like width=640&height=360', query);
      const pairs = query.replace(/^\?/, '').split('&');
      for (const pair of pairs) {
        const [key] = pair.split('=', 1);
        if (!pair.includes('=') || !key) fail(path, 'name=value pairs joined by &', query);
        if (key === 'preset') fail(path, 'image parameters (a preset cannot name another preset)', query);
      }
      if (options.checkPreset) {
        try {
          options.checkPreset(query.replace(/^\?/, ''), name, settings);
        } catch (error) {
          throw new StageConfigError(path, `${path}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      parsed[name] = query.replace(/^\?/, '');
    }
    settings.presets = parsed;
  }
  if (!options.partial && settings.presetPolicy === 'only' && Object.keys(settings.presets ?? {}).length === 0) {
    throw new StageConfigError('presetPolicy', 'presetPolicy: only needs at least one preset in presets');
  }
  if (own(input, 'defaultPreset')) {
    const name = input.defaultPreset;
    if (typeof name !== 'string' || !PRESET_NAME.test(name)) fail('defaultPreset', 'a preset name', name);
    settings.defaultPreset = name;
    if (!options.partial) {
      // Outside `only` a URL without a preset is the full-size image: a default there would silently do nothing.
      if (settings.presetPolicy !== 'only') fail('defaultPreset', 'presetPolicy: only alongside', name);
      const names = Object.keys(settings.presets ?? {});
      if (!names.includes(name)) fail('defaultPreset', `one of the presets (${names.join(', ')})`, name);
    }
  }
  return settings;
}
