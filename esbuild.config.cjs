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

// The one schema of a stage's settings and the one list of config fields are
// TypeScript (src/core/config-schema.ts), loaded through tsx.
const { require: tsxRequire } = require('tsx/cjs/api');
const { buildConfigInput, CONFIG_FIELDS, STACK_STAGE_FIELDS } = tsxRequire('./src/core/config-schema.ts', __filename);

/**
 * `custom.edgeConfig` with the stage settings of `custom.stages.<stage>` over it,
 * checked by the one schema; a failure names the field where it is written.
 */
function edgeConfigFrom(input, stageBlock, stage = 'stage') {
  try {
    return buildConfigInput(input, stageBlock, stage);
  } catch (error) {
    if (error.name !== 'StageConfigError') throw error;
    throw new Error(`serverless.yml: ${error.message}`);
  }
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
module.exports.STACK_STAGE_FIELDS = STACK_STAGE_FIELDS;
