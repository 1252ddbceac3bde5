import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { canonicalize, canonicalQuery, decodeQuery, parseParams } from '../../src/core/param-rules.js';
import { parameterTable } from '../../src/core/params/docs-table.js';
import { GRAVITIES, PARAMS, type ParamDescriptor, RESIZE_ORDER, STEPS } from '../../src/core/params/registry.js';
import { compileRules, PARAM_RULES, type ParamRule } from '../../src/core/params/rule-table.js';
import { ruleConfig } from '../../src/core/params.js';
import { buildViewerFunction, MAX_FUNCTION_BYTES } from '../../src/edge/viewer/build.js';
import { type ViewerConfig, viewerConfig } from '../../src/edge/viewer/config.js';
import { isViewerResponse, loadViewerFunction, toQueryString, viewerEvent } from '../../src/local/viewer-function.js';

/** What the prod stage bakes in (serverless.yml): its width allow-list, a signing secret, the KeyValueStore. */
const prod: ViewerConfig = viewerConfig(
  createConfig({
    allowedWidths: [64, 128, 256, 320, 480, 640, 750, 828, 1080, 1200, 1920, 2048, 3840],
    widthPolicy: 'snap',
  }),
  'a-production-secret-of-some-length-0123456789abcdef',
  true,
);

/** The next wave's sixteen parameters, as rules of the kinds they will most likely be. */
const NEXT_WAVE: ParamRule[] = [
  { param: 'vibrance' as never, kind: 'decimal', lowest: 0, highest: 10, decimals: 2, field: true, neutral: 1 },
  { param: 'contrast' as never, kind: 'decimal', lowest: 0, highest: 10, decimals: 2, field: true, neutral: 1 },
  { param: 'saturation' as never, kind: 'decimal', lowest: 0, highest: 10, decimals: 2, field: true, neutral: 1 },
  { param: 'hue' as never, kind: 'integer', lowest: 0, highest: 359, field: true, neutral: 0 },
  { param: 'gamma' as never, kind: 'decimal', lowest: 1, highest: 3, decimals: 1, field: true, neutral: 2.2 },
  { param: 'tint' as never, kind: 'colour', field: true },
  { param: 'mark' as never, kind: 'preset', field: true },
  { param: 'mark-pos' as never, kind: 'choice', choices: GRAVITIES.slice(0, 9), field: 'markPos' },
  { param: 'mark-scale' as never, kind: 'decimal', lowest: 0.01, highest: 1, decimals: 2, field: 'markScale' },
  { param: 'mark-opacity' as never, kind: 'decimal', lowest: 0, highest: 1, decimals: 2, field: 'markOpacity' },
  { param: 'mark-margin' as never, kind: 'integer', lowest: 0, highest: 1000, field: 'markMargin', neutral: 0 },
  { param: 'radius' as never, kind: 'integer', lowest: 1, highest: 'maxDimension', field: true },
  { param: 'border' as never, kind: 'integer', lowest: 1, highest: 100, field: true },
  { param: 'pad' as never, kind: 'integer', lowest: 1, highest: 1000, field: true },
  { param: 'metadata' as never, kind: 'choice', choices: ['strip', 'keep'], field: true, neutral: 'strip' },
  { param: 'maxbytes' as never, kind: 'integer', lowest: 1000, highest: 100000000, field: true },
];

const bytes = (config: ViewerConfig) => Buffer.byteLength(buildViewerFunction(config));

describe('core/params: the parameter registry', () => {
  it('compiles every descriptor, in order, into the rule table the viewer function carries', () => {
    expect(PARAM_RULES.map((rule) => rule.param)).to.deep.equal(PARAMS.map((d) => d.name));
    expect(prod.params).to.equal(PARAM_RULES);
    // Labels and docs are for people: the function carries none of them.
    const code = buildViewerFunction(prod);
    for (const d of PARAMS) expect(code, d.name).not.to.include(d.doc);
    // CloudFront Functions' runtime 2.0 has no ES 2022 built-ins ("JavaScript runtime 2.0 features for CloudFront Functions").
    expect(code).not.to.match(/Object\.hasOwn|\.at\(|\.findLast|structuredClone|\.replaceAll\(/);
  });

  it('gives each pipeline step a field and a key token of its own, none a gravity token', () => {
    const fields = STEPS.map((d) => d.variant.field);
    const tokens = STEPS.map((d) => d.variant.token);
    expect(new Set(fields).size).to.equal(fields.length);
    expect(new Set(tokens).size).to.equal(tokens.length);
    for (const token of tokens) {
      expect(token).to.match(/^[a-z]+$/);
      expect(token).not.to.equal('fp');
      expect(GRAVITIES.map((g) => `g${g.replace('-', '')}`)).not.to.include(token);
    }
    const orders = STEPS.map((d) => d.variant.order);
    expect(new Set([...orders, RESIZE_ORDER]).size, 'one place each in the order of operations').to.equal(
      orders.length + 1,
    );
  });

  it('takes a new pipeline step from its descriptor alone: parsed, folded when neutral, in the canonical query', () => {
    const contrast: ParamDescriptor = {
      name: 'contrast',
      kind: 'decimal',
      lowest: 0.1,
      highest: 10,
      decimals: 2,
      neutral: 1,
      label: 'Contrast',
      doc: 'multiplies the contrast',
      variant: { field: 'contrast', token: 'con', order: 65 },
    };
    const rules = { ...ruleConfig(createConfig()), params: compileRules([...PARAMS, contrast]) };
    const canonical = (query: string) =>
      canonicalQuery(canonicalize(parseParams(decodeQuery(query), rules), rules), rules);
    expect(canonical('contrast=1.50&width=10&blur=2')).to.equal('width=10&blur=2&contrast=1.5');
    expect(canonical('contrast=1&width=10')).to.equal('width=10');
    expect(() => canonical('contrast=11')).to.throw(
      "Expected number between 0.1 and 10 for contrast but received '11'",
    );
    const handle = loadViewerFunction({ ...viewerConfig(createConfig(), null), params: rules.params });
    const result = handle(viewerEvent('GET', '/a.jpg', 'contrast=2&width=10', {}, '203.0.113.7'));
    expect(isViewerResponse(result) ? result.statusCode : toQueryString(result.querystring)).to.equal(
      'width=10&contrast=2',
    );
  });

  it('documents exactly the registry in docs/url-api.md', () => {
    const page = readFileSync(new URL('../../docs/url-api.md', import.meta.url), 'utf8');
    expect(page).to.include(parameterTable());
  });

  it('bundles the preset-only rules and preset expansion only into a stage that uses them', () => {
    const open = buildViewerFunction(prod);
    const withPresets = buildViewerFunction({ ...prod, presets: { thumb: 'width=160' } });
    const only = buildViewerFunction({ ...prod, presets: { thumb: 'width=160' }, presetPolicy: 'only' });
    const presetOnlyRule = 'this stage takes only preset, format and dpr';
    // expandPreset: a URL's gravity drops its preset's focal point.
    const expansion = /\.fx=void 0/;
    expect(open).not.to.include(presetOnlyRule).and.not.to.match(expansion);
    expect(withPresets).not.to.include(presetOnlyRule);
    expect(withPresets).to.match(expansion);
    expect(only).to.include(presetOnlyRule).and.to.match(expansion);
    // The signature check only where signing is on.
    const mismatch = 'The URL signature does not match';
    expect(open).to.include(mismatch);
    expect(buildViewerFunction({ ...prod, signingSecret: null, keyValueStore: false })).not.to.include(mismatch);
    // Each still answers as its stage does.
    const answer = (config: ViewerConfig, query: string) => {
      const result = loadViewerFunction(config)(viewerEvent('GET', '/a.jpg', query, {}, '203.0.113.7'));
      return isViewerResponse(result) ? result.statusCode : toQueryString(result.querystring);
    };
    const unsigned = { ...prod, signingSecret: null, keyValueStore: false };
    expect(answer(unsigned, 'preset=thumb')).to.equal(400);
    expect(answer({ ...unsigned, presets: { thumb: 'width=160' } }, 'preset=thumb&dpr=2')).to.equal('width=320');
    const presetOnly = { ...unsigned, presets: { thumb: 'width=160' }, presetPolicy: 'only' as const };
    expect(answer(presetOnly, 'preset=thumb&dpr=2')).to.equal('preset=thumb&dpr=2');
    expect(answer(presetOnly, 'width=10')).to.equal(400);
  });

  describe('the viewer function per parameter', () => {
    const now = bytes(prod);
    const withNextWave = bytes({ ...prod, params: [...prod.params, ...NEXT_WAVE] });
    const perParameter = (withNextWave - now) / NEXT_WAVE.length;
    const projected = now + 16 * perParameter;

    it('costs tens of bytes per parameter, and the next sixteen leave 1.5 KB', () => {
      console.log(
        `      viewer function (prod, signed, KeyValueStore): ${now} B; ${perParameter.toFixed(1)} B per parameter; ` +
          `+16 parameters: ${withNextWave} B measured, ${Math.round(projected)} B projected, of ${MAX_FUNCTION_BYTES}`,
      );
      expect(perParameter).to.be.below(40);
      expect(withNextWave).to.be.at.most(MAX_FUNCTION_BYTES);
      expect(projected).to.be.at.most(MAX_FUNCTION_BYTES);
      // 1.5 KB left after them, for what the next parameters need beyond their table entries.
      expect(MAX_FUNCTION_BYTES - projected, 'headroom after sixteen more parameters').to.be.at.least(1536);
    });
  });
});
