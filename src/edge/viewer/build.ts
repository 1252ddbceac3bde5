/**
 * Builds the viewer-request CloudFront Function from `entry.ts` with esbuild:
 * one minified script for `cloudfront-js-2.0`, the stage's config baked in.
 * `sls package` (scripts/sls-viewer-function.cjs) and the local CDN
 * (src/local/viewer-function.ts) both call `buildViewerFunction`, so what runs
 * locally is byte for byte what is deployed.
 *
 * The runtime supports ES 5.1 plus `const`/`let`, arrow functions, rest
 * parameters, template literals and `async`/`await`: everything else is
 * declared unsupported below, so esbuild lowers it or refuses to build.
 * The bundle is a script: its first line requires `crypto` and declares the
 * handler's slot, the IIFE fills the slot, the last line is the top-level
 * `function handler` that CloudFront Functions calls.
 */
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { ViewerConfig } from './config.js';

/** CloudFront Functions reject code over 10 KB. */
export const MAX_FUNCTION_BYTES = 10 * 1024;
const ENTRY = fileURLToPath(new URL('./entry.ts', import.meta.url));
const SLOT = '__viewerHandler';

const UNSUPPORTED = [
  // Not a runtime limit: `sls package` reads `${…}` in the resolved FunctionCode as its own variable syntax.
  'template-literal',
  'array-spread',
  'class',
  'class-field',
  'class-private-field',
  'class-private-method',
  'class-static-field',
  'default-argument',
  'destructuring',
  'for-of',
  'generator',
  'async-generator',
  'nullish-coalescing',
  'object-extensions',
  'object-rest-spread',
  'optional-catch-binding',
  'optional-chain',
  'logical-assignment',
  'regexp-dot-all-flag',
  'regexp-lookbehind-assertions',
  'regexp-named-capture-groups',
  'regexp-sticky-and-unicode-flags',
  'regexp-unicode-property-escapes',
] as const;

const cache = new Map<string, string>();

export function buildViewerFunction(config: ViewerConfig): string {
  const json = JSON.stringify(config);
  const cached = cache.get(json);
  if (cached !== undefined) return cached;
  const result = buildSync({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2020',
    supported: Object.fromEntries(UNSUPPORTED.map((feature) => [feature, false])),
    minify: true,
    charset: 'utf8',
    legalComments: 'none',
    define: { __VIEWER_CONFIG__: json },
    banner: { js: `var cfCrypto = require('crypto'), ${SLOT};` },
    footer: { js: `function handler(event) { return ${SLOT}(event); }` },
    logLevel: 'silent',
  });
  const code = (result.outputFiles[0] as { text: string }).text;
  checkFunctionCode(code);
  cache.set(json, code);
  return code;
}

/** What CloudFormation and serverless accept: at most 10 KB, and nothing serverless would resolve as a variable. */
export function checkFunctionCode(code: string): void {
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_FUNCTION_BYTES) {
    throw new Error(
      `Expected the viewer-request function to be at most ${MAX_FUNCTION_BYTES} bytes but it is ${bytes}`,
    );
  }
  // serverless re-reads `${file(...)}` results for its own variables, `${source:address}`.
  const variableLike = code.match(/\$\{\s*[a-z][a-zA-Z0-9]*:/);
  if (variableLike) {
    throw new Error(`The viewer-request function contains '${variableLike[0]}', which serverless would resolve`);
  }
}
