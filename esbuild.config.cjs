'use strict';
/**
 * serverless-esbuild options (serverless.yml `custom.esbuild.config`), called
 * with the serverless instance once its variables are resolved.
 *
 * Lambda@Edge has no environment variables, so the stage's configuration is
 * baked into each bundle: `custom.edgeConfig` becomes the object literal that
 * replaces `__EDGE_RESIZER_CONFIG__` (src/wiring/baked-config.ts) through
 * esbuild's `define`. Only the handlers read it; nothing reads process.env.
 */

// The one schema of a stage's settings is TypeScript (src/core/config-schema.ts), loaded through tsx.
const { require: tsxRequire } = require('tsx/cjs/api');
const { parseStageSettings, STAGE_SETTING_FIELDS } = tsxRequire('./src/core/config-schema.ts', __filename);
const { parseImageParams } = tsxRequire('./src/core/params.ts', __filename);
const { createConfig } = tsxRequire('./src/core/config.ts', __filename);

/**
 * Keys of a `custom.stages.<stage>` block that configure the stack (CloudFormation), not the
 * image settings; every other key there must be a stage setting of the schema.
 */
const INFRA_STAGE_FIELDS = [
  'backup',
  'pointInTimeRecovery',
  'priceClass',
  'derivativeExpirationDays',
  'logRetentionDays',
  'originResponseMemory',
  'originShield',
  'additionalMetrics',
];

/** The fields of EdgeResizerConfigInput (src/core/config.ts); test/deploy checks this list against DEFAULT_CONFIG. */
const CONFIG_FIELDS = {
  stage: true,
  region: true,
  originalsBucket: true,
  derivativesBucket: true,
  stagingBucket: true,
  metadataTable: true,
  masterKey: ['type', 'path', 'parameterName', 'region', 'keyHex'],
  limits: ['maxDimension', 'maxOriginalBytes', 'maxInputPixels', 'transformTimeoutMs'],
  defaultQuality: true,
  defaultFit: true,
  allowedWidths: true,
  widthPolicy: true,
  signing: ['secret'],
  defaultGravity: true,
  presets: true,
  presetPolicy: true,
  defaultPreset: true,
  autoAvif: true,
  avifMaxOutputPixels: true,
  storage: ['timeoutMs', 'maxAttempts'],
};

/** The schema's check of one source of settings; a failure names the field where it is written. */
function checkedSettings(settings, where, options) {
  const limits = settings.limits && typeof settings.limits === 'object' ? settings.limits : {};
  const presetConfig = createConfig(
    typeof limits.maxDimension === 'number' ? { limits: { maxDimension: limits.maxDimension } } : {},
  );
  try {
    return parseStageSettings(settings, { ...options, checkPreset: (query) => parseImageParams(query, presetConfig) });
  } catch (error) {
    const field = error.path ? `${where}.${error.path}` : where;
    throw new Error(`serverless.yml: ${field}: ${error.message}`);
  }
}

/**
 * Checks field names (a typo would silently fall back to a default), validates the stage
 * settings of `custom.edgeConfig` and of the stage's block `custom.stages.<stage>` with the
 * one schema, merges them (the stage block wins), and drops an empty signing secret.
 */
function edgeConfigFrom(input, stageBlock, stage = 'stage') {
  if (!input || typeof input !== 'object') throw new Error('serverless.yml: custom.edgeConfig is missing');
  const config = {};
  for (const [name, value] of Object.entries(input)) {
    const known = CONFIG_FIELDS[name];
    if (!known) throw new Error(`serverless.yml: custom.edgeConfig.${name} is not a field of EdgeResizerConfigInput`);
    if (Array.isArray(known)) {
      for (const inner of Object.keys(value || {})) {
        if (!known.includes(inner)) {
          throw new Error(
            `serverless.yml: custom.edgeConfig.${name}.${inner} is not a field of EdgeResizerConfigInput`,
          );
        }
      }
    }
    config[name] = value;
  }
  const settingNames = new Set(STAGE_SETTING_FIELDS);
  const pick = (object) => Object.fromEntries(Object.entries(object).filter(([name]) => settingNames.has(name)));
  checkedSettings(pick(config), 'custom.edgeConfig', { partial: true });
  let fromStage = {};
  if (stageBlock !== undefined && stageBlock !== null) {
    if (typeof stageBlock !== 'object') throw new Error(`serverless.yml: custom.stages.${stage} is not a map`);
    for (const name of Object.keys(stageBlock)) {
      if (!settingNames.has(name) && !INFRA_STAGE_FIELDS.includes(name)) {
        throw new Error(
          `serverless.yml: custom.stages.${stage}.${name} is neither a stage setting (${[...settingNames].join(', ')}) nor a stack setting (${INFRA_STAGE_FIELDS.join(', ')})`,
        );
      }
    }
    fromStage = pick(stageBlock);
    checkedSettings(fromStage, `custom.stages.${stage}`, { partial: true });
  }
  const merged = { ...pick(config), ...fromStage };
  if (config.limits || fromStage.limits) merged.limits = { ...config.limits, ...fromStage.limits };
  Object.assign(config, checkedSettings(merged, `custom.stages.${stage}`));
  if (config.signing && !config.signing.secret) {
    const { secret: _off, ...rest } = config.signing;
    config.signing = rest;
  }
  return config;
}

/**
 * What the Lambda bundles get: the stage's config without `signing`. Only the
 * viewer function checks signatures (scripts/sls-viewer-function.cjs bakes the
 * secret there); a secret in a Lambda zip would be one more place to leak it.
 */
function lambdaConfigFrom(edgeConfig) {
  const { signing: _viewerOnly, ...config } = edgeConfig;
  return config;
}

module.exports = (serverless) => {
  const region = serverless.service.provider.region;
  if (region !== 'us-east-1') {
    throw new Error(`edge-resizer deploys to us-east-1 only (Lambda@Edge), not '${region}'`);
  }
  const stage = serverless.service.provider.stage;
  const edgeConfig = edgeConfigFrom(serverless.service.custom.edgeConfig, serverless.service.custom.stage, stage);
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Prefer the ES module builds (the AWS SDK ships both): they tree-shake,
    // which measured 899 → 563 kB for origin-response and ~90 ms off a cold start.
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    sourcemap: false,
    // Native binaries: installed for Lambda's linux-x64 below, not bundled.
    external: ['sharp'],
    // Lambda puts the role's credentials in the environment: the SDK's default
    // chain (SSO, STS, INI, IMDS…, ~110 KB) is replaced by `fromEnv` (src/wiring/env-credentials.ts).
    alias: {
      '@aws-sdk/credential-provider-node': require('node:path').join(__dirname, 'src/wiring/env-credentials.ts'),
    },
    // Bundle the pinned AWS SDK v3 instead of trusting the runtime's copy.
    exclude: [],
    define: { __EDGE_RESIZER_CONFIG__: JSON.stringify(lambdaConfigFrom(edgeConfig)) },
    packager: 'npm',
    installExtraArgs: ['--os=linux', '--cpu=x64', '--libc=glibc', '--omit=dev'],
    // One work folder per stage, so dev and prod can be packaged at once.
    outputWorkFolder: `.esbuild/${stage}`,
  };
};
module.exports.edgeConfigFrom = edgeConfigFrom;
module.exports.lambdaConfigFrom = lambdaConfigFrom;
module.exports.CONFIG_FIELDS = CONFIG_FIELDS;
module.exports.INFRA_STAGE_FIELDS = INFRA_STAGE_FIELDS;
