/**
 * Runs the viewer-request CloudFront Function locally: the bundle `sls package`
 * deploys (`buildViewerFunction`, src/edge/viewer/build.ts), with the same
 * stage config baked in, in a fresh VM context that holds only what
 * cloudfront-js-2.0 documents (`runtime-check.ts`), its only imports `crypto`
 * and `cloudfront`. Events are shaped as CloudFront presents them:
 * query names and values as the viewer sent them (not decoded), and
 * `rawQueryString()` answering the query string exactly as received.
 */
import { createHash, createHmac } from 'node:crypto';
import { runInContext } from 'node:vm';
import { createConfig, type EdgeResizerConfig } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { DISALLOWED_HEADER } from '../edge/result-rules.js';
import { buildViewerFunction } from '../edge/viewer/build.js';
import { type ViewerConfig, viewerConfig } from '../edge/viewer/config.js';
import { assertRuntime2Code, createRuntime2Context } from '../edge/viewer/runtime-check.js';
import { signingKeysReader } from './secrets.js';

export type { ViewerConfig } from '../edge/viewer/config.js';

export interface ViewerValue {
  value: string;
  multiValue?: { value: string }[];
}

export interface ViewerEvent {
  version: '1.0';
  context: { distributionDomainName: string; distributionId: string; eventType: 'viewer-request'; requestId: string };
  viewer: { ip: string };
  request: {
    method: string;
    uri: string;
    querystring: Record<string, ViewerValue>;
    headers: Record<string, ViewerValue>;
    cookies: Record<string, ViewerValue>;
    rawQueryString?: () => string | undefined;
  };
}

export interface ViewerResponse {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, ViewerValue>;
  body?: string | { encoding: 'text' | 'base64'; data: string };
}

export type ViewerResult = ViewerEvent['request'] | ViewerResponse;

/** The viewer function's settings for a stage config (signing secret from the config unless given). */
export function localViewerConfig(config: EdgeResizerConfig, signingSecret?: string | null): ViewerConfig {
  return viewerConfig(config, signingSecret === undefined ? config.signing.secret : signingSecret);
}

export interface LoadViewerOptions {
  /**
   * `signing-keys.json` of the data dir, which plays the CloudFront
   * KeyValueStore of signing keys (re-read when it changes). With it the
   * function is built with the KeyValueStore and its handler is async.
   */
  signingKeysFile?: string;
  /**
   * The caller hands every call an event of its own (as `viewerEvent` builds
   * one per request), so the function may change it in place without a copy
   * first. @default false: each call gets a copy, as CloudFront gives each
   * invocation its own event
   */
  ownEvents?: boolean;
  /** Where a broken `signingKeysFile` is reported. @default an `error` log line on stdout */
  onSigningKeysError?: (message: string) => void;
}

/**
 * The local KeyValueStore's file (`<dataDir>/signing-keys.json`), written by
 * `edge-resizer keys add|list|retire`:
 *
 *     { "keys": { "<kid>": { "secret": "<string>", "created": "<ISO 8601>", "retired"?: "<ISO 8601>" } } }
 *
 * A `kid` is 1..64 of `A-Z a-z 0-9 _ -`. Deployed, the KeyValueStore holds
 * `<kid>` → secret, and a retired key's value is the empty string (so a retired
 * `default` is not replaced by the baked `SIGNING_SECRET`).
 */
export interface SigningKeysFile {
  keys: Record<string, { secret: string; created: string; retired?: string }>;
}

/** The `cloudfront` module's `kvs()` over the keys file: `get` rejects for a missing key, as deployed. */
function fileKeyValueStore(path: string, onInvalid: (message: string) => void) {
  const current = signingKeysReader(path, onInvalid);
  return {
    get: async (kid: string): Promise<string> => {
      const keys = current();
      // A file never read whole: no key, and no fallback to the baked default either.
      if (keys === 'unreadable') return '';
      const entry = keys[kid];
      if (!entry) throw new Error(`The key ${kid} does not exist`);
      return entry.retired ? '' : entry.secret;
    },
  };
}

/**
 * Loads the function with `config`; fields left out take the default stage's
 * values (`createConfig()`), so a test can name only what it changes.
 */
export function loadViewerFunction(
  config: Partial<ViewerConfig>,
  options?: LoadViewerOptions & { signingKeysFile?: undefined },
): (event: ViewerEvent) => ViewerResult;
export function loadViewerFunction(
  config: Partial<ViewerConfig>,
  options: LoadViewerOptions,
): (event: ViewerEvent) => ViewerResult | Promise<ViewerResult>;
export function loadViewerFunction(
  config: Partial<ViewerConfig>,
  options: LoadViewerOptions = {},
): (event: ViewerEvent) => ViewerResult | Promise<ViewerResult> {
  const keyValueStore = options.signingKeysFile !== undefined;
  const code = buildViewerFunction({ ...viewerConfig(createConfig(), null), ...config, keyValueStore });
  const kvs = keyValueStore
    ? fileKeyValueStore(
        options.signingKeysFile as string,
        options.onSigningKeysError ?? ((message) => createLogger('error').error('signing_keys_invalid', { message })),
      )
    : undefined;
  return runViewerCode(code, { keyValueStore: kvs, ownEvents: options.ownEvents });
}

/** The part of the `cloudfront` module's `kvs()` handle the function calls. */
export interface ViewerKeyValueStore {
  get(key: string): Promise<string>;
}

/**
 * Runs viewer-function code as CloudFront Functions would: checked against
 * runtime 2.0's documented syntax and built-ins first (`checkRuntime2Code`),
 * then run once in a context holding only those built-ins, its imports
 * (`crypto`, and `cloudfront` when `keyValueStore` is given) resolved to the
 * local ones. The code may be `buildViewerFunction`'s output or the
 * `FunctionCode` of a packaged template.
 */
export function runViewerCode(
  code: string,
  options: { keyValueStore?: ViewerKeyValueStore; ownEvents?: boolean } = {},
): (event: ViewerEvent) => ViewerResult | Promise<ViewerResult> {
  assertRuntime2Code(code);
  const kvs = options.keyValueStore;
  const modules: Record<string, unknown> = {
    crypto: { createHmac, createHash },
    cloudfront: { kvs: () => kvs },
  };
  const sandbox = createRuntime2Context({
    require: (name: string) => {
      if (name === 'crypto' || (name === 'cloudfront' && kvs)) return modules[name];
      throw new Error(`CloudFront Functions cannot require ${name}`);
    },
  });
  // A script context has no `import`: the runtime's `import x from 'm'` lines become requires of the same modules.
  const script = code.replace(/^import (\w+) from '(\w+)';$/gm, "var $1 = require('$2');");
  const handler = instantiate(script, sandbox);
  if (typeof handler !== 'function') throw new Error('the viewer function defines no handler function');
  if (options.ownEvents) return handler;
  return (event) => {
    // A copy, as CloudFront hands each invocation its own event; the method survives as in the runtime.
    const copy = JSON.parse(JSON.stringify(event)) as ViewerEvent;
    if (event.request.rawQueryString) copy.request.rawQueryString = event.request.rawQueryString;
    return handler(copy);
  };
}

/**
 * Runs the bundle once in `context` and answers its top-level `handler`. The
 * code is the deployed code unchanged, run as the body of a function whose
 * parameters are the context's own built-ins (`encodeURIComponent`, `JSON`,
 * `Object`…), each bound to itself: a VM context's global object answers
 * every lookup through Node's interceptor, several µs a request, while a
 * parameter is a plain variable. The bundle's top-level names become that
 * function's locals rather than the context's globals; nothing else reads
 * them.
 */
function instantiate(
  script: string,
  context: object,
): ((event: ViewerEvent) => ViewerResult | Promise<ViewerResult>) | undefined {
  const builtins = (runInContext('Object.getOwnPropertyNames(globalThis)', context) as string[]).filter(
    (name) => /^[A-Za-z_$][\w$]*$/.test(name) && !RESERVED_GLOBALS.has(name),
  );
  const factory = runInContext(
    `(function (${builtins.join(', ')}) {\n${script}\nreturn typeof handler === 'function' ? handler : undefined;\n})`,
    context,
    { filename: 'viewer-request.js' },
  ) as (...values: unknown[]) => ((event: ViewerEvent) => ViewerResult | Promise<ViewerResult>) | undefined;
  const values = runInContext(`[${builtins.join(', ')}]`, context) as unknown[];
  return factory(...values);
}

/** Global names that cannot be, or must not be, a parameter (strict-mode reserved, or the bundle's own slot). */
const RESERVED_GLOBALS = new Set(['undefined', 'NaN', 'Infinity', 'eval', 'arguments', 'globalThis', 'require']);

/** Distinct enough for a log line, and cheaper than a random number per request. */
const REQUEST_ID_PREFIX = Math.random().toString(36).slice(2, 8);
let requestCount = 0;

/**
 * Builds the function's event from a raw query string and headers, names and
 * values as sent (a header whose value is not one string, which Node gives
 * only for `set-cookie`, is left out).
 */
export function viewerEvent(
  method: string,
  uri: string,
  rawQuery: string,
  headers: Record<string, string | string[] | undefined>,
  ip: string,
): ViewerEvent {
  // Names are the client's: no prototype, so `__proto__` or `constructor` is just a name.
  const querystring: Record<string, ViewerValue> = Object.create(null);
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    const existing = querystring[name];
    if (existing) existing.multiValue = [...(existing.multiValue ?? [{ value: existing.value }]), { value }];
    else querystring[name] = { value };
  }
  const viewerHeaders: Record<string, ViewerValue> = Object.create(null);
  for (const name in headers) {
    const value = headers[name];
    const lower = name.toLowerCase();
    // CloudFront shows no function its disallowed headers (`Connection`, `Keep-Alive`…).
    if (typeof value === 'string' && Object.hasOwn(headers, name) && !DISALLOWED_HEADER.test(lower))
      viewerHeaders[lower] = { value };
  }
  return {
    version: '1.0',
    context: {
      distributionDomainName: 'd111111abcdef8.cloudfront.net',
      distributionId: 'ELOCALEXAMPLE',
      eventType: 'viewer-request',
      requestId: REQUEST_ID_PREFIX + (requestCount++).toString(36),
    },
    viewer: { ip },
    request: {
      method,
      uri,
      querystring,
      headers: viewerHeaders,
      cookies: {},
      rawQueryString: () => (rawQuery === '' ? undefined : rawQuery),
    },
  };
}

/** The function's query object back into a query string, in the order it left it (values as it wrote them). */
export function toQueryString(querystring: Record<string, ViewerValue> | string): string {
  if (typeof querystring === 'string') return querystring;
  let query = '';
  for (const name in querystring) {
    if (!Object.hasOwn(querystring, name)) continue;
    query += `${query === '' ? '' : '&'}${encodeURIComponent(name)}=${(querystring[name] as ViewerValue).value}`;
  }
  return query;
}

export function isViewerResponse(result: ViewerResult): result is ViewerResponse {
  return 'statusCode' in result;
}
