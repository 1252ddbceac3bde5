/** The build-time helpers serverless.yml calls, without running serverless. */
import { createRequire } from 'node:module';
import { expect } from 'chai';
import { createConfig, DEFAULT_CONFIG } from '../../src/core/config.js';

const require = createRequire(import.meta.url);
const esbuildConfig = require('../../esbuild.config.cjs') as {
  (serverless: unknown): Record<string, unknown>;
  edgeConfigFrom: (input: unknown) => Record<string, unknown>;
  CONFIG_FIELDS: Record<string, true | string[]>;
};
const viewer = require('../../scripts/sls-viewer-function.cjs') as {
  viewerConfig: (edgeConfig: unknown) => Record<string, unknown>;
  renderViewerFunction: (edgeConfig: unknown) => string;
  MAX_FUNCTION_BYTES: number;
};
const lifecycle = require('../../scripts/sls-derivatives-lifecycle.cjs') as {
  derivativeLifecycleRules: (days: number) => { Id: string; Prefix: string; ExpirationInDays?: number }[];
};

function fakeServerless(edgeConfig: unknown, region = 'us-east-1') {
  return { service: { provider: { region, stage: 'dev' }, custom: { edgeConfig } } };
}

describe('deploy/esbuild.config.cjs', () => {
  it('knows exactly the fields of EdgeResizerConfig, nested ones included', () => {
    const fields = esbuildConfig.CONFIG_FIELDS;
    expect(Object.keys(fields)).to.have.members(Object.keys(DEFAULT_CONFIG));
    expect(fields.limits).to.have.members(Object.keys(DEFAULT_CONFIG.limits));
    expect(fields.storage).to.have.members(Object.keys(DEFAULT_CONFIG.storage));
  });

  it('defines __EDGE_RESIZER_CONFIG__ as the JSON of custom.edgeConfig without signing (the viewer function alone has the secret)', () => {
    for (const secret of ['', 'a-real-secret']) {
      const options = esbuildConfig(
        fakeServerless({ stage: 'dev', originalsBucket: 'o', limits: { maxDimension: 2048 }, signing: { secret } }),
      );
      const define = options.define as Record<string, string>;
      expect(JSON.parse(define.__EDGE_RESIZER_CONFIG__ as string)).to.deep.equal({
        stage: 'dev',
        originalsBucket: 'o',
        limits: { maxDimension: 2048 },
      });
    }
    const options = esbuildConfig(fakeServerless({ stage: 'dev' }));
    expect(options).to.include({ format: 'cjs', target: 'node20', platform: 'node', packager: 'npm' });
    expect(options.external).to.deep.equal(['sharp']);
    expect(options.installExtraArgs).to.deep.equal(['--os=linux', '--cpu=x64', '--libc=glibc', '--omit=dev']);
  });

  it('refuses a misspelt field rather than letting it fall back to a default', () => {
    expect(() => esbuildConfig.edgeConfigFrom({ originalBucket: 'x' })).to.throw(/originalBucket is not a field/);
    expect(() => esbuildConfig.edgeConfigFrom({ limits: { maxWidth: 1 } })).to.throw(/limits\.maxWidth is not a field/);
  });

  it('refuses any region but us-east-1', () => {
    expect(() => esbuildConfig(fakeServerless({}, 'eu-west-1'))).to.throw(/us-east-1 only/);
  });
});

describe('deploy/sls-viewer-function.cjs', () => {
  it('picks the viewer settings from the baked edge config', () => {
    const picked = viewer.viewerConfig({
      allowedWidths: [640, 320],
      widthPolicy: 'snap',
      defaultFit: 'contain',
      limits: { maxDimension: 2000 },
      signing: { secret: 's' },
    });
    expect(picked).to.include({ signingSecret: 's', widthPolicy: 'snap', maxDimension: 2000, defaultFit: 'contain' });
    expect(picked.allowedWidths).to.deep.equal([320, 640]);
    const defaults = createConfig({});
    expect(viewer.viewerConfig({ signing: { secret: '' } })).to.include({
      signingSecret: null,
      defaultQuality: defaults.defaultQuality,
      defaultFit: defaults.defaultFit,
      defaultGravity: defaults.defaultGravity,
      autoAvif: defaults.autoAvif,
      maxDimension: defaults.limits.maxDimension,
    });
  });

  it('bundles the function from TypeScript with the stage baked in, under 10 KB', () => {
    const code = viewer.renderViewerFunction({ signing: { secret: 'baked-secret' }, defaultFit: 'inside' });
    expect(Buffer.byteLength(code)).to.be.below(viewer.MAX_FUNCTION_BYTES);
    expect(code).to.include('"baked-secret"').and.include('"inside"');
    expect(code).to.match(/^var cfCrypto = require\('crypto'\)/);
    expect(code.trimEnd()).to.match(/function handler\(event\) \{ return __viewerHandler\(event\); \}$/);
    // No serverless variable syntax left unresolved in the code.
    expect(code).not.to.include(['$', '{self:'].join(''));
  });
});

describe('deploy/sls-derivatives-lifecycle.cjs', () => {
  it('expires keys of every allowed first character and never the reserved `_` prefix', () => {
    const rules = lifecycle.derivativeLifecycleRules(90);
    const expiring = rules.filter((rule) => rule.ExpirationInDays === 90).map((rule) => rule.Prefix);
    const allowed = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-';
    expect(expiring.sort()).to.deep.equal([...allowed].sort());
    expect(
      rules.filter((rule) => rule.ExpirationInDays && (rule.Prefix === '' || rule.Prefix.startsWith('_'))),
    ).to.deep.equal([]);
    expect(new Set(rules.map((rule) => rule.Id)).size).to.equal(rules.length);
  });

  it('refuses a non-positive number of days', () => {
    expect(() => lifecycle.derivativeLifecycleRules(0)).to.throw(/integer >= 1/);
  });
});
