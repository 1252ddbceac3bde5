'use strict';
/**
 * The viewer-request CloudFront Function's code, for resources/cdn.yml's
 * `FunctionCode: ${file(./scripts/sls-viewer-function.cjs)}`.
 *
 * CloudFront Functions have no environment and no imports, and CloudFormation
 * wants the code as a string: so the function is bundled from its TypeScript
 * (src/edge/viewer/, sharing src/core/param-rules.ts with origin-request) by
 * `buildViewerFunction`, with the stage's settings baked in. The local CDN
 * calls the same function with the same settings. tsx loads the TypeScript.
 * The code is checked against runtime 2.0's documented syntax and built-ins
 * (src/edge/viewer/runtime-check.ts) here too, so `sls package` fails on what
 * CloudFront would only refuse at deploy time, or at the first request.
 */
const { require: tsxRequire } = require('tsx/cjs/api');

function load() {
  return {
    ...tsxRequire('../src/edge/viewer/build.ts', __filename),
    ...tsxRequire('../src/edge/viewer/config.ts', __filename),
    ...tsxRequire('../src/edge/viewer/runtime-check.ts', __filename),
    ...tsxRequire('../src/core/config.ts', __filename),
  };
}

/**
 * The viewer function's settings, from the config baked into the Lambda@Edge
 * bundles (serverless.yml `custom.edgeConfig`), so both agree.
 * @param {object} edgeConfig an `EdgeResizerConfigInput`
 */
function viewerConfig(edgeConfig, options = {}) {
  const { createConfig, viewerConfig: fromConfig } = load();
  const config = createConfig(edgeConfig || {});
  return fromConfig(config, config.signing.secret, Boolean(options.keyValueStore));
}

/**
 * @param {object} edgeConfig an `EdgeResizerConfigInput`
 * @param {{keyValueStore?: boolean}} options `keyValueStore`: signing keys by `kid` from the
 *   KeyValueStore associated with the function (then `FunctionConfig.KeyValueStoreAssociations` is required)
 */
function renderViewerFunction(edgeConfig, options = {}) {
  const { buildViewerFunction, assertRuntime2Code } = load();
  const code = buildViewerFunction(viewerConfig(edgeConfig, options));
  assertRuntime2Code(code, 'The viewer-request CloudFront Function (cloudfront-js-2.0)');
  return code;
}

// The stack always associates the SigningKeyStore (resources/cdn.yml), so the
// deployed function always reads signing keys by `kid` from it.
module.exports = async ({ resolveVariable }) =>
  renderViewerFunction(await resolveVariable('self:custom.edgeConfig'), { keyValueStore: true });
module.exports.viewerConfig = viewerConfig;
module.exports.renderViewerFunction = renderViewerFunction;
module.exports.MAX_FUNCTION_BYTES = 10 * 1024;
