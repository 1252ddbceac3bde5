/**
 * Builds the viewer-request CloudFront Function from `handler.ts` with esbuild:
 * one minified script for `cloudfront-js-2.0`, the stage's config baked in.
 * `sls package` (scripts/sls-viewer-function.cjs) and the local CDN
 * (src/local/viewer-function.ts) both call `buildViewerFunction`, so what runs
 * locally is byte for byte what is deployed.
 *
 * The runtime supports ES 5.1 plus `const`/`let`, arrow functions, rest
 * parameters, template literals and `async`/`await`: everything else is
 * declared unsupported below, so esbuild lowers it or refuses to build.
 * Template literals too, because serverless would read `${…}` as its own
 * variables: the bundled sources concatenate with `+` instead.
 * A stage carries only what it uses: the parameter table as one compact
 * string (`rule-string.ts`), the preset-only rules only under `presetPolicy:
 * only`, preset expansion only where presets are defined, the signature
 * check only where signing is on (`StageRules` in
 * handler.ts). Sizes: test/core/param-registry.test.ts logs them.
 * The bundle is a script: its first lines import `crypto` (and, with the
 * KeyValueStore, `cloudfront`) and declare the handler's slot, the IIFE fills
 * the slot, the last lines are the top-level `handler` CloudFront Functions
 * calls (async with the KeyValueStore, whose `get` rejects for a missing key).
 */
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { encodeRules } from '../../core/params/rule-string.js';
import type { ParamRule } from '../../core/params/rule-table.js';
import type { ViewerConfig } from './config.js';

/** CloudFront Functions reject code over 10 KB. */
export const MAX_FUNCTION_BYTES = 10 * 1024;
const HERE = fileURLToPath(new URL('.', import.meta.url));
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

/** The config's, the parameter table's (`ParamRule`) and `StageRules`' field names, shortened with their uses. */
const MANGLED =
  /^(maxDimension|defaultQuality|defaultFit|defaultGravity|allowedWidths|widthPolicy|presets|presetPolicy|defaultPreset|autoAvif|signingSecret|keyValueStore|params|param|kind|lowest|highest|decimals|choices|field|neutral|focalCoordinate|presetOnlyCheck|presetOnlyQuery|expandPreset|checkSignedUrl)$/;

const cache = new Map<string, string>();

export function buildViewerFunction(config: ViewerConfig): string {
  const json = JSON.stringify(config);
  const cached = cache.get(json);
  if (cached !== undefined) return cached;
  const result = buildSync({
    stdin: { contents: entrySource(config), resolveDir: HERE, sourcefile: 'viewer-entry.ts', loader: 'ts' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2020',
    supported: Object.fromEntries(UNSUPPORTED.map((feature) => [feature, false])),
    minify: true,
    charset: 'utf8',
    legalComments: 'none',
    banner: {
      js: config.keyValueStore
        ? `import cfCrypto from 'crypto';\nimport cf from 'cloudfront';\nvar ${SLOT}, cfKvs = cf.kvs();`
        : `var cfCrypto = require('crypto'), ${SLOT};`,
    },
    // The runtime allows no async closure: the one async function is the top-level handler.
    footer: {
      js: config.keyValueStore
        ? `async function handler(event) {\nvar r = ${SLOT}(event), s = null;\nif (r.kid === undefined) return r;\ntry { s = await cfKvs.get(r.kid); } catch (e) {}\nreturn ${SLOT}(event, s);\n}`
        : `function handler(event) { return ${SLOT}(event); }`,
    },
    // Internal names only (never a field of CloudFront's event or a parameter name, which are read by string).
    mangleProps: MANGLED,
    logLevel: 'silent',
  });
  const code = (result.outputFiles[0] as { text: string }).text;
  checkFunctionCode(code);
  cache.set(json, code);
  return code;
}

/**
 * The bundle's entry: the stage's settings as an object literal, top-level
 * names unquoted so `mangleProps` shortens them with their uses (values, preset
 * names included, are JSON and never mangled), the parameter table as its
 * compact string (`rule-string.ts`); `cfCrypto` is the runtime's `crypto`
 * module and `__viewerHandler` the slot, both from the first line.
 */
function entrySource(config: ViewerConfig): string {
  const fields = Object.entries(config).map(
    ([name, value]) =>
      `${name}: ${name === 'params' ? `decodeRules(${JSON.stringify(encodeRules(value as ParamRule[]))})` : JSON.stringify(value)}`,
  );
  // A stage imports (and so carries) only the optional rules it uses.
  const presetOnly = config.presetPolicy === 'only';
  const hasPresets = Object.keys(config.presets).length > 0;
  const rules = [
    `presetOnlyCheck: ${presetOnly ? 'requirePresetOnly' : 'null'}`,
    `presetOnlyQuery: ${presetOnly ? 'presetOnlyQuery' : 'null'}`,
    `expandPreset: ${hasPresets ? 'expandPreset' : 'null'}`,
    `checkSignedUrl: ${config.signingSecret ? 'checkSignedUrl' : 'null'}`,
  ];
  return [
    "import { createViewerHandler, type HmacModule } from './handler.ts';",
    "import { decodeRules } from '../../core/params/rule-string.ts';",
    "import { checkSignedUrl } from './signature.ts';",
    "import { expandPreset, presetOnlyQuery, requirePresetOnly } from '../../core/param-rules.ts';",
    'declare const cfCrypto: HmacModule;',
    'declare let __viewerHandler: unknown;',
    `__viewerHandler = createViewerHandler({ ${fields.join(', ')} }, cfCrypto, { ${rules.join(', ')} });`,
  ].join('\n');
}

/** What CloudFormation and serverless accept: at most 10 KB, and nothing serverless would resolve as a variable. */
export function checkFunctionCode(code: string): void {
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_FUNCTION_BYTES) {
    throw new Error(
      `Expected the viewer-request function to be at most ${MAX_FUNCTION_BYTES} bytes but it is ${bytes}`,
    );
  }
  // serverless re-reads `${file(...)}` results for its own variables: any `${` would be one.
  const at = code.indexOf('${');
  if (at !== -1) {
    throw new Error(
      `The viewer-request function contains '${code.slice(at, at + 20)}', which serverless would resolve`,
    );
  }
}
