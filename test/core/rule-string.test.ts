import { expect } from 'chai';
import { GRAVITIES } from '../../src/core/params/registry.js';
import { decodeRules, encodeRules } from '../../src/core/params/rule-string.js';
import { PARAM_RULES, type ParamRule } from '../../src/core/params/rule-table.js';

/** Rules of every kind and shape the next parameters may take. */
const ODD_RULES = [
  { param: 'brightness', kind: 'decimal', lowest: 0, highest: 10, decimals: 2, field: true, neutral: 1 },
  { param: 'gamma', kind: 'decimal', lowest: 1, highest: 3, decimals: 1, field: true, neutral: 2.2 },
  { param: 'tint', kind: 'colour', field: true, neutral: 'ffffff00' },
  { param: 'mark', kind: 'preset', field: 'watermark' },
  { param: 'mark-pos', kind: 'choice', choices: GRAVITIES.slice(0, 9), field: 'markPos', neutral: 'center' },
  { param: 'steps', kind: 'choice', choices: [0.5, 1, 2], field: true, neutral: 1 },
  { param: 'radius', kind: 'integer', lowest: 1, highest: 'maxDimension', field: true },
  { param: 'maxbytes', kind: 'integer', lowest: 1000, highest: 100000000 },
] as unknown as ParamRule[];

describe('core/params: the parameter table as one string (the viewer function carries it so)', () => {
  it('gives back the very table it encodes, value types included', () => {
    expect(decodeRules(encodeRules(PARAM_RULES))).to.deep.equal(PARAM_RULES);
    expect(decodeRules(encodeRules(ODD_RULES))).to.deep.equal(ODD_RULES);
  });

  it('costs a rule a few bytes past its name', () => {
    const text = encodeRules(PARAM_RULES);
    expect(text).to.contain('width:i:::1:M;');
    expect(text).to.contain('rotate:n:=:0:0|90|180|270;');
    expect(text).to.contain('bg:h:background:ffffffff;');
    expect(text.length / PARAM_RULES.length).to.be.below(30);
  });

  it('refuses a value holding a separator rather than encode it wrong', () => {
    const bad = (rule: object) => () => encodeRules([rule as ParamRule]);
    expect(bad({ param: 'a:b', kind: 'rect' })).to.throw('cannot be encoded');
    expect(bad({ param: 'fit', kind: 'choice', choices: ['a|b', 'c'] })).to.throw('cannot be encoded');
    expect(bad({ param: 'fit', kind: 'choice', choices: ['', 'c'] })).to.throw('cannot be encoded');
    expect(bad({ param: 'bg', kind: 'colour', field: true, neutral: 'a;b' })).to.throw('cannot be encoded');
  });

  it('decodes in microseconds, once per request (logged, not timed: a benchmark bounds it)', () => {
    const text = encodeRules(PARAM_RULES);
    const runs = 20000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) decodeRules(text);
    const micros = Number(process.hrtime.bigint() - start) / 1000 / runs;
    console.log(`      decodeRules: ${micros.toFixed(2)} µs per request (${PARAM_RULES.length} rules, Node)`);
    expect(decodeRules(text)).to.have.length(PARAM_RULES.length);
  });
});
