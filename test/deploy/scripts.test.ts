/** The build-time helpers serverless.yml calls, without running serverless. */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createConfig, DEFAULT_CONFIG } from '../../src/core/config.js';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const esbuildConfig = require('../../esbuild.config.cjs') as {
  (serverless: unknown): Record<string, unknown>;
  edgeConfigFrom: (input: unknown, stageBlock?: unknown, stage?: string) => Record<string, unknown>;
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

/** `sls package --stage dev` of a copy of the project with one file edited; its exit code and output. */
async function slsPackageEdited(file: string, edit: (text: string) => string) {
  const work = await mkdtemp(join(tmpdir(), 'edge-resizer-sls-bad-'));
  try {
    for (const name of ['serverless.yml', 'esbuild.config.cjs', 'package.json', 'package-lock.json', 'tsconfig.json']) {
      await cp(join(ROOT, name), join(work, name));
    }
    for (const name of ['resources', 'scripts', 'src'])
      await cp(join(ROOT, name), join(work, name), { recursive: true });
    await symlink(await realpath(join(ROOT, 'node_modules')), join(work, 'node_modules'), 'dir');
    const text = await readFile(join(work, file), 'utf8');
    const edited = edit(text);
    expect(edited, `the edit of ${file}`).to.not.equal(text);
    await writeFile(join(work, file), edited);
    const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
    Object.assign(env, { AWS_ACCESS_KEY_ID: 'AKIDOFFLINEPACKAGE', AWS_SECRET_ACCESS_KEY: 'offline' });
    const sls = join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
    return await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [sls, 'package', '--stage', 'dev', '--package', join(work, 'out')], {
        cwd: work,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function fakeServerless(edgeConfig: unknown, region = 'us-east-1', stage?: unknown) {
  return { service: { provider: { region, stage: 'dev' }, custom: { edgeConfig, stage } } };
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

  it("bakes a stage block's settings (presets, policies, limits), checked by the one schema", () => {
    const options = esbuildConfig(
      fakeServerless({ stage: 'dev', limits: { maxDimension: 4096 }, allowedWidths: [] }, 'us-east-1', {
        priceClass: 'PriceClass_100',
        allowedWidths: [320, 640],
        widthPolicy: 'snap',
        presets: { card: 'width=640&height=360', thumb: '?width=64' },
        presetPolicy: 'only',
        autoAvif: false,
        defaultGravity: 'attention',
        defaultQuality: 70,
        limits: { transformTimeoutMs: 15_000 },
      }),
    );
    const baked = JSON.parse((options.define as Record<string, string>).__EDGE_RESIZER_CONFIG__ as string);
    expect(baked).to.deep.include({
      allowedWidths: [320, 640],
      widthPolicy: 'snap',
      presets: { card: 'width=640&height=360', thumb: 'width=64' },
      presetPolicy: 'only',
      autoAvif: false,
      defaultGravity: 'attention',
      defaultQuality: 70,
      limits: { maxDimension: 4096, transformTimeoutMs: 15_000 },
    });
    expect(baked).to.not.have.property('priceClass');
  });

  const refused: [string, unknown, unknown, RegExp][] = [
    ['an unknown stage field', {}, { presetz: {} }, /custom\.stages\.dev\.presetz is neither a stage setting/],
    [
      'a quality of 0',
      {},
      { defaultQuality: 0 },
      /custom\.stages\.dev\.defaultQuality: Expected integer between 1 and 100/,
    ],
    [
      'an unknown gravity',
      {},
      { defaultGravity: 'middle' },
      /custom\.stages\.dev\.defaultGravity: Expected one of center/,
    ],
    [
      'an unknown limit',
      {},
      { limits: { maxWidth: 1 } },
      /custom\.stages\.dev\.limits\.maxWidth: limits\.maxWidth is not a stage setting/,
    ],
    ['a bad preset value', {}, { presets: { card: 'width=abc' } }, /custom\.stages\.dev\.presets\.card: .*width/],
    ['a preset naming a preset', {}, { presets: { a: 'preset=b' } }, /presets\.a: Expected image parameters/],
    ['presetPolicy only without presets', {}, { presetPolicy: 'only' }, /presetPolicy: only needs at least one preset/],
    [
      'a defaultPreset that is not a preset',
      {},
      { presets: { card: 'width=640' }, presetPolicy: 'only', defaultPreset: 'hero' },
      /custom\.stages\.dev\.defaultPreset: Expected one of the presets \(card\) for defaultPreset but received 'hero'/,
    ],
    [
      'a defaultPreset outside presetPolicy only',
      {},
      { presets: { card: 'width=640' }, defaultPreset: 'card' },
      /defaultPreset: Expected presetPolicy: only alongside/,
    ],
    [
      'a preset width the stage refuses (outside allowedWidths, widthPolicy reject), as serve --config does',
      {},
      { allowedWidths: [320], presets: { card: 'width=640' } },
      /custom\.stages\.dev\.presets\.card: .*640/,
    ],
    ['a width over maxDimension', { limits: { maxDimension: 1000 } }, { allowedWidths: [2000] }, /allowedWidths\[0\]/],
    ['a bad edgeConfig value', { autoAvif: 'yes' }, undefined, /custom\.edgeConfig\.autoAvif: Expected true or false/],
  ];
  it('takes a defaultPreset naming a preset under presetPolicy only', () => {
    const stage = { presets: { card: 'width=640' }, presetPolicy: 'only', defaultPreset: 'card' };
    expect(esbuildConfig.edgeConfigFrom({}, stage, 'dev')).to.include({ presetPolicy: 'only', defaultPreset: 'card' });
  });
  for (const [what, edgeConfig, stageBlock, message] of refused) {
    it(`refuses ${what}, naming the field`, () => {
      expect(() => esbuildConfig.edgeConfigFrom(edgeConfig, stageBlock, 'dev')).to.throw(message);
    });
  }

  it('`sls package` fails on a bad stage value in serverless.yml, naming the field', async function () {
    this.timeout(180_000);
    const result = await slsPackageEdited('serverless.yml', (yml) =>
      yml.replace(/^( {4}dev:\n)/m, '$1      defaultQuality: 0\n'),
    );
    expect(result.code).to.not.equal(0);
    expect(result.output).to.match(
      /serverless\.yml: custom\.stages\.dev\.defaultQuality: Expected integer between 1 and 100/,
    );
  });

  // "JavaScript runtime 2.0 features for CloudFront Functions" lists no Array.prototype.at (ES2022).
  it('`sls package` fails on viewer-function code runtime 2.0 does not have, naming it', async function () {
    this.timeout(180_000);
    const result = await slsPackageEdited('src/edge/viewer/handler.ts', (source) =>
      source.replace(
        'const request = event.request;',
        "const request = event.request;\n    if (request.uri === '/at') request.uri = ['/a'].at(0) as string;",
      ),
    );
    expect(result.code).to.not.equal(0);
    expect(result.output).to.match(/runtime 2\.0 does not have/);
    expect(result.output).to.match(/\.at\(\)/);
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
    // serverless would resolve any `${` of the code as its own variable.
    expect(code).not.to.include('$' + '{');
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
