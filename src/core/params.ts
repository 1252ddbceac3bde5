/**
 * Image URL parameters: parsing, validation, and canonical
 * form. Everything that decides which derivative a URL names lives here and in
 * `param-rules.ts` (the dependency-free rules, shared with the viewer-request
 * CloudFront Function and the playground), so that "which requests share a
 * cache entry" has one answer.
 */
import type { EdgeResizerConfig } from './config.js';
import { overAvifCap } from './encoder-policy.js';
import { HttpError } from './errors.js';
import {
  type CanonicalParams,
  canonicalize,
  decodeQuery,
  type ImageParams,
  isParamError,
  type NormalizedAccept,
  normalizeAccept,
  parseParams,
  type RuleConfig,
} from './param-rules.js';
import { PARAM_RULES } from './params/rule-table.js';
import type { CanonicalForm } from './params/types.js';

export {
  FIT_MODES,
  FLIPS,
  type Flip,
  type FocalPoint,
  GRAVITIES,
  type Gravity,
  type ImageParamName,
  type ImageParams,
  type NormalizedAccept,
  normalizeAccept,
  REQUESTED_FORMATS,
  type Rect,
  type RequestedFormat,
  type Rotation,
} from './param-rules.js';
export type { OutputFormat } from './params/constants.js';
export { IMAGE_PARAM_NAMES } from './params/registry.js';

import type { OutputFormat } from './params/constants.js';

/**
 * What the derivative will be encoded as, decided before the original is read:
 * an explicit `format=` (always that encoder), or a class negotiated by
 * `format=auto` from `Accept`: `auto-avif`, `auto-webp`, or `original` (JPEG/PNG
 * after the original, see `transform.ts`). A negotiated class may answer a
 * smaller format than it names (never more bytes than the JPEG/PNG it
 * replaces), so explicit and negotiated variants never share a derivative key.
 */
export type VariantFormat = OutputFormat | 'original' | 'auto-webp' | 'auto-avif';
/** The classes `format=auto` negotiates. */
export type NegotiatedFormat = 'auto-avif' | 'auto-webp' | 'original';

/**
 * A canonical variant: every output-affecting value written out, `dpr` folded into
 * pixels, `format` decided. Two URLs name the same derivative iff their variants are equal.
 * Its pipeline steps are the descriptors' (`params/registry.ts`), each absent when neutral.
 */
export type Variant = CanonicalForm<VariantFormat>;

/** The slice of the stage config the parameter rules read (also what is baked into the viewer function). */
export function ruleConfig(config: EdgeResizerConfig): RuleConfig {
  return {
    maxDimension: config.limits.maxDimension,
    defaultQuality: config.defaultQuality,
    defaultFit: config.defaultFit,
    defaultGravity: config.defaultGravity,
    allowedWidths: [...config.allowedWidths].sort((a, b) => a - b),
    widthPolicy: config.widthPolicy,
    presets: config.presets,
    presetPolicy: config.presetPolicy,
    defaultPreset: config.defaultPreset,
    params: PARAM_RULES,
  };
}

/** Runs a rule, turning its `ParamError` into a 400 `invalid_param`. */
function withHttpErrors<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (isParamError(error)) throw new HttpError('invalid_param', error.message);
    throw error;
  }
}

/**
 * Parses the image parameters of a query string (`a=1&b=2`, no leading `?`),
 * `preset` expanded. Unknown parameters are ignored; a repeated known parameter
 * is a 400 because "which one wins" would differ between CloudFront, S3 and us.
 */
export function parseImageParams(query: string, config: EdgeResizerConfig): ImageParams {
  return withHttpErrors(() => parseParams(decodeQuery(query), ruleConfig(config)));
}

/** The canonical form before the format is negotiated (what the viewer function writes back as the query). */
export function canonicalParams(params: ImageParams, config: EdgeResizerConfig): CanonicalParams {
  return withHttpErrors(() => canonicalize(params, ruleConfig(config)));
}

/**
 * Folds defaults, `dpr`, the width allow-list, what cannot matter and the
 * negotiated format into one canonical variant. `negotiated` is the class
 * `format=auto` gets from the (normalized) `Accept`: see `negotiateFormat`;
 * `true`/`false` are shorthands for `auto-webp`/`original`.
 */
export function canonicalVariant(
  params: ImageParams,
  negotiated: NegotiatedFormat | boolean,
  config: EdgeResizerConfig,
): Variant {
  const c = canonicalParams(params, config);
  let auto: NegotiatedFormat = negotiated === true ? 'auto-webp' : negotiated === false ? 'original' : negotiated;
  // Above the stage's AVIF cap (known here when both dimensions are), `auto` is WebP.
  const { width, height } = c;
  if (auto === 'auto-avif' && width !== undefined && height !== undefined) {
    if (overAvifCap({ width, height }, config.avifMaxOutputPixels)) auto = 'auto-webp';
  }
  const { format, ...rest } = c;
  return { ...rest, format: format === 'auto' ? auto : format };
}

/** The class `format=auto` negotiates from an `Accept` header (normalized by the viewer function or not). */
export function negotiateFormat(accept: string | undefined, config: EdgeResizerConfig): NegotiatedFormat {
  return NEGOTIATED[normalizeAccept(accept, config.autoAvif)];
}

const NEGOTIATED: Record<NormalizedAccept, NegotiatedFormat> = {
  'image/avif': 'auto-avif',
  'image/webp': 'auto-webp',
  '*/*': 'original',
};
