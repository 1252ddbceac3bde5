'use strict';
/**
 * The viewer-request CloudFront Function's code, for serverless.yml's
 * `FunctionCode: ${file(./scripts/sls-viewer-function.cjs)}`.
 *
 * CloudFront Functions have no environment and no imports, and CloudFormation
 * wants the code as a string: so `src/edge/viewer-request.js` holds the token
 * `__VIEWER_CONFIG__` (bare, or as `{/*__VIEWER_CONFIG__*\/}`) and this
 * replaces it with the stage's settings as a JSON object literal:
 *
 *     {"signingSecret": "…" | null, "defaultQuality": 80, "allowedWidths": [...],
 *      "widthPolicy": "reject" | "snap", "maxDimension": 4096}
 *
 * The local CDN can call `renderViewerFunction()` with the same config.
 */
const fs = require('node:fs');
const path = require('node:path');

const SOURCE = path.join(__dirname, '..', 'src', 'edge', 'viewer-request.js');
/** CloudFront Functions reject code over 10 KB. */
const MAX_FUNCTION_BYTES = 10 * 1024;
const TOKEN = /\{\s*\/\*\s*__VIEWER_CONFIG__\s*\*\/\s*\}|\/\*\s*__VIEWER_CONFIG__\s*\*\/|__VIEWER_CONFIG__/g;

/**
 * The viewer function's settings, picked from the config baked into the
 * Lambda@Edge bundles (serverless.yml `custom.edgeConfig`), so both agree.
 * @param {{defaultQuality?: number, allowedWidths?: number[], widthPolicy?: string, limits?: {maxDimension?: number}, signing?: {secret?: string}}} edgeConfig
 */
function viewerConfig(edgeConfig) {
  const secret = edgeConfig.signing?.secret;
  return {
    signingSecret: secret ? String(secret) : null,
    // Defaults as in DEFAULT_CONFIG (src/core/config.ts); test/deploy pins them.
    defaultQuality: edgeConfig.defaultQuality || 80,
    allowedWidths: [...(edgeConfig.allowedWidths || [])].sort((a, b) => a - b),
    widthPolicy: edgeConfig.widthPolicy || 'reject',
    maxDimension: edgeConfig.limits?.maxDimension || 4096,
  };
}

/**
 * @param {string} source the function's code, holding the token exactly once
 * @param {object} config what `viewerConfig()` returns
 */
function renderViewerFunction(source, config) {
  const found = source.match(TOKEN) || [];
  if (found.length !== 1) {
    throw new Error(
      `Expected the token __VIEWER_CONFIG__ once in src/edge/viewer-request.js but found it ${found.length} times`,
    );
  }
  const code = source.replace(TOKEN, () => JSON.stringify(config));
  // serverless re-reads the result for its own variables, `${source:address}`;
  // plain template literals (`${name}`) pass through untouched.
  const variableLike = code.match(/\$\{\s*[a-z][a-zA-Z0-9]*:/);
  if (variableLike) {
    throw new Error(
      `src/edge/viewer-request.js contains '${variableLike[0]}', which serverless would resolve as a variable: rename or concatenate`,
    );
  }
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_FUNCTION_BYTES) {
    throw new Error(
      `Expected the viewer-request function to be at most ${MAX_FUNCTION_BYTES} bytes but it is ${bytes}`,
    );
  }
  return code;
}

module.exports = async ({ resolveVariable }) => {
  const edgeConfig = await resolveVariable('self:custom.edgeConfig');
  return renderViewerFunction(fs.readFileSync(SOURCE, 'utf8'), viewerConfig(edgeConfig));
};
module.exports.viewerConfig = viewerConfig;
module.exports.renderViewerFunction = renderViewerFunction;
module.exports.MAX_FUNCTION_BYTES = MAX_FUNCTION_BYTES;
