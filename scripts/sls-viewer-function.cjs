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
 */
const { require: tsxRequire } = require('tsx/cjs/api');

function load() {
  return {
    ...tsxRequire('../src/edge/viewer/build.ts', __filename),
    ...tsxRequire('../src/edge/viewer/config.ts', __filename),
    ...tsxRequire('../src/core/config.ts', __filename),
  };
}

/**
 * The viewer function's settings, from the config baked into the Lambda@Edge
 * bundles (serverless.yml `custom.edgeConfig`), so both agree.
 * @param {object} edgeConfig an `EdgeResizerConfigInput`
 */
function viewerConfig(edgeConfig) {
  const { createConfig, viewerConfig: fromConfig } = load();
  return fromConfig(createConfig(edgeConfig || {}));
}

/** @param {object} edgeConfig an `EdgeResizerConfigInput` */
function renderViewerFunction(edgeConfig) {
  return load().buildViewerFunction(viewerConfig(edgeConfig));
}

module.exports = async ({ resolveVariable }) => renderViewerFunction(await resolveVariable('self:custom.edgeConfig'));
module.exports.viewerConfig = viewerConfig;
module.exports.renderViewerFunction = renderViewerFunction;
module.exports.MAX_FUNCTION_BYTES = 10 * 1024;
