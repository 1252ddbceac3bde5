/**
 * The image URL parameters, one descriptor each: the one place a parameter is
 * written down. Everything else is derived from this list:
 *   - validation and its sharp-style message, folding and the canonical query
 *     (`param-rules.ts`, through the compact table of `rule-table.ts`, which
 *     is what the viewer-request CloudFront Function carries);
 *   - the derivative key and its reader (`keys.ts`), from `variant`;
 *   - the `ImageParams` and `Variant` types (`types.ts`);
 *   - the playground's controls (`web/src/`) and the docs' parameter table
 *     (docs/url-api.md, tested against this list).
 *
 * A parameter that is a step of the pipeline (it has `variant`) needs nothing
 * but its descriptor here: it is parsed, folded when neutral, written into the
 * canonical query in this list's order and into the derivative key in the
 * order of operations (`variant.order`). The others (size, fit, format, dpr,
 * gravity and focal point, quality, preset) fold into each other, which
 * `param-rules.ts` spells out.
 *
 * The viewer function's bundle imports only `constants.ts`: it carries the
 * compiled table instead of these descriptors (labels and docs are for people).
 */

import { FIT_MODES, FLIPS, GRAVITIES, NEUTRAL, REQUESTED_FORMATS, ROTATIONS } from './constants.js';

export * from './constants.js';

/** Where a pipeline step's value lives in a `Variant` and in its derivative key. */
export interface VariantSlot {
  /** The `Variant` field. */
  field: string;
  /** The derivative key's part is this token then the value (`blur2.5`, `rect1_2_3_4`). */
  token: string;
  /** Position in the order of operations, which is also the key's order (the resize is at `RESIZE_ORDER`). */
  order: number;
}

interface DescriptorBase {
  name: string;
  /** For the playground's control and the docs' table. */
  label: string;
  /** The playground's hint after the label (`sigma`, `x,y,w,h`). */
  unit?: string;
  /** The playground's names of some choices (`h` → `h (mirror)`); a number choice shows with `unit`. */
  choiceLabels?: Readonly<Record<string, string>>;
  /** One line for the docs' table. */
  doc: string;
  /** A pipeline step: copied into the variant when not neutral. */
  variant?: VariantSlot;
  /** The value that changes nothing; a step's neutral value is left out of the query and the key. */
  neutral?: number | string;
}

/** An integer between `lowest` and `highest`; `highest: 'maxDimension'` is the stage's `limits.maxDimension`. */
export interface IntegerDescriptor extends DescriptorBase {
  kind: 'integer';
  lowest: number;
  highest: number | 'maxDimension';
}

/** A number of at most `decimals` decimals between `lowest` and `highest`. */
export interface DecimalDescriptor extends DescriptorBase {
  kind: 'decimal';
  lowest: number;
  highest: number;
  decimals: number;
}

/** One of `choices`, written as it is spelled (numbers too: `rotate=90`). */
export interface ChoiceDescriptor extends DescriptorBase {
  kind: 'choice';
  choices: readonly (string | number)[];
}

/** `rgb`, `rgba`, `rrggbb` or `rrggbbaa`, any case, kept as `rrggbbaa` lower case. */
export interface ColourDescriptor extends DescriptorBase {
  kind: 'colour';
}

/** `x,y,w,h`: integers, `w` and `h` at least 1. */
export interface RectDescriptor extends DescriptorBase {
  kind: 'rect';
}

/** The name of one of the stage's presets. */
export interface PresetDescriptor extends DescriptorBase {
  kind: 'preset';
}

export type ParamDescriptor =
  | IntegerDescriptor
  | DecimalDescriptor
  | ChoiceDescriptor
  | ColourDescriptor
  | RectDescriptor
  | PresetDescriptor;

/** The resize's place in the order of operations: where gravity or the focal point enter the derivative key. */
export const RESIZE_ORDER = 50;

/**
 * Every image parameter, in the canonical query's order. Every other query
 * parameter is ignored (and dropped at the edge).
 */
export const PARAMS = [
  {
    name: 'width',
    kind: 'integer',
    lowest: 1,
    highest: 'maxDimension',
    label: 'Width',
    doc: 'CSS pixels (× `dpr`); without `height` the aspect ratio is kept',
  },
  {
    name: 'height',
    kind: 'integer',
    lowest: 1,
    highest: 'maxDimension',
    label: 'Height',
    doc: 'CSS pixels (× `dpr`); without `width` the aspect ratio is kept',
  },
  {
    name: 'quality',
    kind: 'integer',
    lowest: 1,
    highest: 100,
    label: 'Quality',
    doc: "the encoder's quality; folds away for PNG",
  },
  {
    name: 'fit',
    kind: 'choice',
    choices: FIT_MODES,
    label: 'Fit',
    doc: "sharp's fit modes, never enlarging; folds away unless both dimensions are given",
  },
  {
    name: 'format',
    kind: 'choice',
    choices: REQUESTED_FORMATS,
    neutral: NEUTRAL.format,
    label: 'Format',
    doc: '`auto` negotiates AVIF or WebP from `Accept`, else the original’s format',
  },
  {
    name: 'dpr',
    kind: 'decimal',
    lowest: 1,
    highest: 4,
    decimals: 2,
    neutral: NEUTRAL.dpr,
    label: 'DPR',
    doc: 'device pixel ratio, multiplied into `width` and `height`',
  },
  {
    name: 'gravity',
    kind: 'choice',
    choices: GRAVITIES,
    label: 'Gravity',
    doc: 'what a crop keeps (`cover`) or where padding goes (`contain`); `focal`: the stored focal point',
  },
  {
    name: 'fx',
    kind: 'decimal',
    lowest: 0,
    highest: 1,
    decimals: 3,
    neutral: NEUTRAL.focalCoordinate,
    label: 'Focal x',
    doc: 'a focal point for this URL (0 left, 1 right); not with a `gravity` other than `focal`',
  },
  {
    name: 'fy',
    kind: 'decimal',
    lowest: 0,
    highest: 1,
    decimals: 3,
    neutral: NEUTRAL.focalCoordinate,
    label: 'Focal y',
    doc: 'a focal point for this URL (0 top, 1 bottom)',
  },
  {
    name: 'rect',
    kind: 'rect',
    label: 'Rect',
    unit: 'x,y,w,h',
    doc: "cut out first, in the displayed original's pixels",
    variant: { field: 'rect', token: 'rect', order: 10 },
  },
  {
    name: 'rotate',
    kind: 'choice',
    choices: ROTATIONS,
    neutral: NEUTRAL.rotate,
    label: 'Rotate',
    unit: '°',
    doc: 'degrees clockwise, after the EXIF orientation',
    variant: { field: 'rotate', token: 'rot', order: 30 },
  },
  {
    name: 'flip',
    kind: 'choice',
    choices: FLIPS,
    label: 'Flip',
    choiceLabels: { h: 'h (mirror)', v: 'v (upside down)', hv: 'hv (both)' },
    doc: '`h` mirrors left-right, `v` upside down, `hv` both',
    variant: { field: 'flip', token: 'flip', order: 40 },
  },
  {
    name: 'blur',
    kind: 'decimal',
    lowest: 0.3,
    highest: 100,
    decimals: 1,
    label: 'Blur',
    unit: 'sigma',
    doc: 'Gaussian sigma in output pixels',
    variant: { field: 'blur', token: 'blur', order: 60 },
  },
  {
    name: 'sharpen',
    kind: 'decimal',
    lowest: 0.5,
    highest: 10,
    decimals: 1,
    label: 'Sharpen',
    unit: 'sigma',
    doc: "sigma of sharp's `sharpen`",
    variant: { field: 'sharpen', token: 'sharpen', order: 70 },
  },
  {
    name: 'brightness',
    kind: 'decimal',
    lowest: 0,
    highest: 5,
    decimals: 2,
    neutral: 1,
    label: 'Brightness',
    unit: '×',
    doc: "multiplies the brightness (sharp's `modulate`), after `sharpen`",
    variant: { field: 'brightness', token: 'bri', order: 75 },
  },
  {
    name: 'bg',
    kind: 'colour',
    neutral: NEUTRAL.background,
    label: 'Background',
    doc: 'the colour of `contain` padding and of flattened transparency',
    variant: { field: 'background', token: 'bg', order: 80 },
  },
  {
    name: 'trim',
    kind: 'integer',
    lowest: 1,
    highest: 100,
    label: 'Trim',
    unit: 'threshold',
    doc: 'threshold: a border matching the top-left pixel is cut away',
    variant: { field: 'trim', token: 'trim', order: 20 },
  },
  {
    name: 'preset',
    kind: 'preset',
    label: 'Preset',
    doc: "one of the stage's presets, expanded first; the URL's own parameters override it",
  },
] as const satisfies readonly ParamDescriptor[];

export type Descriptor = (typeof PARAMS)[number];
export type ImageParamName = Descriptor['name'];
export const IMAGE_PARAM_NAMES: readonly ImageParamName[] = /* @__PURE__ */ PARAMS.map((param) => param.name);

/** The descriptor of a parameter, by name. */
export function descriptor<N extends ImageParamName>(name: N): Extract<Descriptor, { name: N }> {
  return PARAMS.find((param) => param.name === name) as Extract<Descriptor, { name: N }>;
}

/** The pipeline steps, in the order of operations (the derivative key's order). */
export const STEPS = /* @__PURE__ */ stepsInOrder();

function stepsInOrder() {
  return PARAMS.filter((param): param is Extract<Descriptor, { variant: VariantSlot }> => 'variant' in param).sort(
    (a, b) => a.variant.order - b.variant.order,
  );
}
