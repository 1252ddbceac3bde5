/**
 * The one schema of a stage's settings: the fields a stage block of
 * `serverless.yml` and the local `serve --config FILE` (or `EDGE_RESIZER_CONFIG`)
 * may set, and the one list of every field of `EdgeResizerConfigInput`. Both
 * `esbuild.config.cjs` (at `sls package`) and `edge-resizer serve` (at start)
 * check with it, so a typo or a bad value fails where it is written instead of
 * silently falling back to a default.
 *
 * Hand-written rather than valibot: minified, this module bundles to ~4 kB and a
 * valibot schema of the same fields to ~8 kB before its custom messages and
 * cross-field checks; it keeps sharp's style of message ("Expected integer
 * between 1 and 100 for defaultQuality but received '0'") without a message
 * per action; and the core keeps no dependency. Pure: no I/O, no environment.
 */
import type {
  EdgeResizerConfig,
  EdgeResizerConfigInput,
  GravityName,
  LimitsConfig,
  MasterKeySource,
  PresetPolicy,
  WidthPolicy,
} from './config.js';
import { createConfig } from './config.js';
import { GRAVITIES } from './param-rules.js';
import { canonicalParams, parseImageParams } from './params.js';

/** Largest `limits.maxDimension` a stage may set: sharp/libvips and Lambda memory stop being sensible past it. */
const MAX_DIMENSION_CEILING = 16_384;
/** CloudFront gives an origin-response trigger 30 s in all; the miss budget must end before it. */
const MAX_TRANSFORM_TIMEOUT_MS = 29_000;

// Gravity names have one home, the parameter rules the edge and the playground share.
const GRAVITY_NAMES: readonly GravityName[] = GRAVITIES;
const PRESET_POLICIES = ['open', 'only'] as const satisfies readonly PresetPolicy[];
const WIDTH_POLICIES = ['reject', 'snap'] as const satisfies readonly WidthPolicy[];
/** A preset name as it appears in `?preset=`: URL-safe without encoding. */
const PRESET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The settings a stage may carry, as they are written (every field optional). */
export interface StageConfig {
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

/** `list` when it names every member of `T` (and, by its element type, nothing else); a compile error otherwise. */
type Every<T extends string, L extends readonly T[]> = [T] extends [L[number]] ? L : never;
const every =
  <T extends string>() =>
  <const L extends readonly T[]>(list: Every<T, L>): L =>
    list;

/** The top-level field names of a stage's settings. */
const STAGE_SETTING_FIELDS = every<keyof StageConfig & keyof EdgeResizerConfigInput>()([
  'presets',
  'presetPolicy',
  'defaultPreset',
  'autoAvif',
  'defaultGravity',
  'defaultQuality',
  'allowedWidths',
  'widthPolicy',
  'limits',
]);
const LIMIT_FIELDS = every<keyof LimitsConfig>()([
  'maxDimension',
  'maxOriginalBytes',
  'maxInputPixels',
  'transformTimeoutMs',
]);

/**
 * Keys of a `custom.stages.<stage>` block that configure the stack (CloudFormation,
 * read by `serverless.yml` itself), not the images; every other key there must be
 * a stage setting.
 */
export const STACK_STAGE_FIELDS = [
  'backup',
  'pointInTimeRecovery',
  'priceClass',
  'derivativeExpirationDays',
  'logRetentionDays',
  'originResponseMemory',
  'originShield',
  'additionalMetrics',
] as const;

type KeysOfUnion<T> = T extends unknown ? keyof T : never;

/**
 * Every field of `EdgeResizerConfigInput` (`custom.edgeConfig`): `true` for a
 * value, the list of inner names for an object whose names are checked.
 */
export const CONFIG_FIELDS = {
  stage: true,
  region: true,
  originalsBucket: true,
  derivativesBucket: true,
  stagingBucket: true,
  metadataTable: true,
  masterKey: every<KeysOfUnion<MasterKeySource>>()(['type', 'path', 'parameterName', 'region', 'keyHex']),
  limits: LIMIT_FIELDS,
  defaultQuality: true,
  defaultFit: true,
  allowedWidths: true,
  widthPolicy: true,
  signing: every<keyof EdgeResizerConfig['signing']>()(['secret']),
  defaultGravity: true,
  presets: true,
  presetPolicy: true,
  defaultPreset: true,
  autoAvif: true,
  avifMaxOutputPixels: true,
  storage: every<keyof EdgeResizerConfig['storage']>()(['timeoutMs', 'maxAttempts']),
} as const satisfies { [K in keyof EdgeResizerConfig]-?: true | readonly string[] };

/**
 * Refuses a field of `EdgeResizerConfigInput` that does not exist, nested ones
 * included (a typo would silently fall back to a default). `where` prefixes the
 * field in the message (`custom.edgeConfig`).
 */
function checkConfigFieldNames(input: Record<string, unknown>, where: string): void {
  for (const [name, value] of Object.entries(input)) {
    const known: true | readonly string[] | undefined = Object.hasOwn(CONFIG_FIELDS, name)
      ? CONFIG_FIELDS[name as keyof typeof CONFIG_FIELDS]
      : undefined;
    if (!known) throw new StageConfigError(name, `${where}.${name} is not a field of EdgeResizerConfigInput`);
    if (known === true || !isPlainObject(value)) continue;
    for (const inner of Object.keys(value)) {
      if (!known.includes(inner)) {
        throw new StageConfigError(
          `${name}.${inner}`,
          `${where}.${name}.${inner} is not a field of EdgeResizerConfigInput`,
        );
      }
    }
  }
}

/**
 * Refuses a key of a stage block that is neither a stage setting nor a stack
 * setting; `where` names the block (`custom.stages.dev`).
 */
function checkStageBlockFieldNames(block: Record<string, unknown>, where: string): void {
  const settings: readonly string[] = STAGE_SETTING_FIELDS;
  const stack: readonly string[] = STACK_STAGE_FIELDS;
  for (const name of Object.keys(block)) {
    if (!settings.includes(name) && !stack.includes(name)) {
      throw new StageConfigError(
        name,
        `${where}.${name} is neither a stage setting (${settings.join(', ')}) nor a stack setting (${stack.join(', ')})`,
      );
    }
  }
}

/** The stage settings among `object`'s fields (a stage block also holds stack settings). */
function pickStageSettings(object: Record<string, unknown>): Record<string, unknown> {
  const settings: readonly string[] = STAGE_SETTING_FIELDS;
  return Object.fromEntries(Object.entries(object).filter(([name]) => settings.includes(name)));
}

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

interface StageConfigOptions {
  /** One source of several that are merged later: skip the checks across fields. @default false */
  partial?: boolean;
}

/**
 * A preset must be a URL this stage answers: its own widths, width policy and
 * limits apply, and the canonical form (where the width allow-list is applied)
 * must accept it too. `stage` holds every other setting, already checked; its
 * preset policy is not the preset's (under `only` a URL names presets, a preset
 * names parameters).
 */
function checkPreset(query: string, stage: Readonly<StageConfig>): void {
  const config = createConfig({ ...stage, presetPolicy: 'open' });
  canonicalParams(parseImageParams(query, config), config);
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
 * fragment, each preset checked by the stage's own URL rules. Throws a `StageConfigError` naming the first bad field: an unknown
 * name or a value outside its range.
 */
export function parseStageConfig(input: unknown, options: StageConfigOptions = {}): StageConfig {
  if (!isPlainObject(input)) fail('the stage settings', 'an object', input);
  unknownFields('', input, STAGE_SETTING_FIELDS);
  const settings: StageConfig = {};

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
      try {
        checkPreset(query.replace(/^\?/, ''), settings);
      } catch (error) {
        throw new StageConfigError(path, `${path}: ${error instanceof Error ? error.message : String(error)}`);
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

/** `parseStageConfig`, its failure naming the field where it is written (`custom.stages.dev.defaultQuality: …`). */
function parseWritten(settings: Record<string, unknown>, where: string, options: StageConfigOptions): StageConfig {
  try {
    return parseStageConfig(settings, options);
  } catch (error) {
    if (!(error instanceof StageConfigError)) throw error;
    const field = `${where}.${error.path}`;
    throw new StageConfigError(field, `${field}: ${error.message}`);
  }
}

/**
 * The configuration a build bakes into the Lambda bundles: `custom.edgeConfig`
 * (every field of `EdgeResizerConfigInput`) with the stage settings of the
 * stage's block `custom.stages.<stage>` over it (the block wins, `limits` merged
 * field by field). Each source is checked where it is written, then the merge
 * across fields; an empty signing secret is dropped (signing off).
 */
export function buildConfigInput(edgeConfig: unknown, stageBlock: unknown, stage: string): EdgeResizerConfigInput {
  if (!isPlainObject(edgeConfig)) throw new StageConfigError('custom.edgeConfig', 'custom.edgeConfig is missing');
  checkConfigFieldNames(edgeConfig, 'custom.edgeConfig');
  const where = `custom.stages.${stage}`;
  parseWritten(pickStageSettings(edgeConfig), 'custom.edgeConfig', { partial: true });
  let fromStage: Record<string, unknown> = {};
  if (stageBlock !== undefined && stageBlock !== null) {
    if (!isPlainObject(stageBlock)) throw new StageConfigError(where, `${where} is not a map`);
    checkStageBlockFieldNames(stageBlock, where);
    fromStage = pickStageSettings(stageBlock);
    parseWritten(fromStage, where, { partial: true });
  }
  const merged = { ...pickStageSettings(edgeConfig), ...fromStage };
  if (edgeConfig.limits || fromStage.limits)
    merged.limits = { ...asObject(edgeConfig.limits), ...asObject(fromStage.limits) };
  const config = { ...edgeConfig, ...parseWritten(merged, where, {}) } as EdgeResizerConfigInput;
  if (config.signing && !config.signing.secret) {
    const { secret: _off, ...rest } = config.signing;
    config.signing = rest;
  }
  return config;
}

const asObject = (value: unknown): Record<string, unknown> => (isPlainObject(value) ? value : {});
