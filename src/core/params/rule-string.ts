/**
 * The parameter table as one short string, for the viewer-request CloudFront
 * Function: an object literal costs a rule ~50 bytes of a 10 KB budget, this
 * ~15. `build.ts` bakes `encodeRules(table)` in and the function runs
 * `decodeRules` once per request (a few microseconds, see the benchmark in
 * test/core/rule-string.test.ts), giving back the same `ParamRule`s.
 *
 * A rule is `param:kind:field:neutral:args` and rules are joined by `;`:
 *   - kind: `i` integer, `d` decimal, `c` choice, `n` choice of numbers,
 *     `h` colour, `r` rect, `p` preset;
 *   - field: empty for none, `=` for the parameter's own name;
 *   - neutral: empty for none (a number for `i`, `d` and `n`);
 *   - args: `lowest:highest` (`M`: maxDimension), `:decimals` for `d`; the
 *     choices joined by `|` for `c` and `n`.
 * Trailing empty fields are left out. Both halves are written for CloudFront
 * Functions' runtime (see `param-rules.ts`): the bundle parses this file, and
 * drops `encodeRules`.
 */
import type { ParamRule } from './rule-table.js';

const KINDS: Record<string, ParamRule['kind']> = {
  i: 'integer',
  d: 'decimal',
  c: 'choice',
  n: 'choice',
  h: 'colour',
  r: 'rect',
  p: 'preset',
};

/** Build time (Node): the table as its string; a value holding a separator is refused, never mis-encoded. */
export function encodeRules(rules: readonly ParamRule[]): string {
  return rules.map(encodeRule).join(';');
}

function encodeRule(rule: ParamRule): string {
  const choices = rule.choices;
  const numericChoices = (choices || ['']).every((choice) => typeof choice === 'number');
  const letter = Object.keys(KINDS).find(
    (key) => KINDS[key] === rule.kind && (rule.kind !== 'choice' || (key === 'n') === numericChoices),
  ) as string;
  const args: (string | number)[] = [];
  if (rule.kind === 'integer' || rule.kind === 'decimal') {
    args.push(rule.lowest as number, rule.highest === 'maxDimension' ? 'M' : (rule.highest as number));
    if (rule.kind === 'decimal') args.push(rule.decimals as number);
  }
  const field = rule.field === undefined ? '' : rule.field === true ? '=' : rule.field;
  const choiceTexts = (choices || []).map(String);
  const fields = [rule.param, letter, field, rule.neutral === undefined ? '' : String(rule.neutral)].concat(
    args.map(String),
  );
  const unsafe = fields.concat(choiceTexts).find((value) => /[:;|]/.test(value));
  if (unsafe !== undefined || !rule.param || choiceTexts.indexOf('') !== -1) {
    throw new Error(`The parameter rule of ${rule.param} cannot be encoded: '${unsafe === undefined ? '' : unsafe}'`);
  }
  if (choices !== undefined) fields.push(choiceTexts.join('|'));
  while (fields[fields.length - 1] === '') fields.pop();
  return fields.join(':');
}

/** Run time (the viewer function): the string back to its table. */
export function decodeRules(text: string): ParamRule[] {
  const rules: ParamRule[] = [];
  const entries = text.split(';');
  for (let i = 0; i < entries.length; i++) {
    const f = (entries[i] as string).split(':');
    const letter = f[1] as string;
    const numeric = letter === 'i' || letter === 'd' || letter === 'n';
    const rule = { param: f[0], kind: KINDS[letter] } as ParamRule;
    if (f[2]) rule.field = f[2] === '=' ? true : f[2];
    if (f[3]) rule.neutral = numeric ? Number(f[3]) : f[3];
    if (letter === 'i' || letter === 'd') {
      rule.lowest = Number(f[4]);
      rule.highest = f[5] === 'M' ? 'maxDimension' : Number(f[5]);
      if (letter === 'd') rule.decimals = Number(f[6]);
    }
    if (letter === 'c' || letter === 'n') {
      const choices = (f[4] as string).split('|');
      rule.choices = numeric ? choices.map(Number) : choices;
    }
    rules.push(rule);
  }
  return rules;
}
