/**
 * The descriptors of `registry.ts` compiled to what validating and folding
 * need, and nothing for people (labels, docs, key tokens): the table
 * `param-rules.ts` interprets. The viewer-request CloudFront Function carries
 * it baked into its config as one compact string (`rule-string.ts`), so a
 * parameter costs the function its name and a few bytes.
 */
import { type ImageParamName, PARAMS, type ParamDescriptor } from './registry.js';

export interface ParamRule {
  param: ImageParamName;
  kind: ParamDescriptor['kind'];
  lowest?: number;
  highest?: number | 'maxDimension';
  decimals?: number;
  choices?: readonly (string | number)[];
  /** A pipeline step's `Variant` field; `true` when it is the parameter's name (the usual case: fewer bytes). */
  field?: string | true;
  /** A pipeline step's value that folds away. */
  neutral?: number | string;
}

export function compileRules(params: readonly ParamDescriptor[]): ParamRule[] {
  return params.map((d) => {
    const rule: ParamRule = { param: d.name as ImageParamName, kind: d.kind };
    if (d.kind === 'integer' || d.kind === 'decimal') {
      rule.lowest = d.lowest;
      rule.highest = d.highest;
    }
    if (d.kind === 'decimal') rule.decimals = d.decimals;
    if (d.kind === 'choice') rule.choices = d.choices;
    if (d.variant) rule.field = d.variant.field === d.name ? true : d.variant.field;
    if (d.variant && d.neutral !== undefined) rule.neutral = d.neutral;
    return rule;
  });
}

export const PARAM_RULES: readonly ParamRule[] = compileRules(PARAMS);
