/**
 * Runs the viewer-request CloudFront Function locally: the bundle `sls package`
 * deploys (`buildViewerFunction`, src/edge/viewer/build.ts), with the same
 * stage config baked in, in a fresh VM context whose only import is `crypto`,
 * as in cloudfront-js-2.0. Events are shaped as CloudFront presents them:
 * query names and values as the viewer sent them (not decoded), and
 * `rawQueryString()` answering the query string exactly as received.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createContext, runInContext } from 'node:vm';
import { createConfig, type EdgeResizerConfig } from '../core/config.js';
import { buildViewerFunction } from '../edge/viewer/build.js';
import { type ViewerConfig, viewerConfig } from '../edge/viewer/config.js';

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
function fileKeyValueStore(path: string) {
  let seen = '';
  let keys: SigningKeysFile['keys'] = Object.create(null);
  const current = () => {
    let stamp = 'missing';
    try {
      const stats = statSync(path);
      stamp = `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
    } catch {
      // No file: no keys but the baked default.
    }
    if (stamp !== seen) {
      seen = stamp;
      keys = Object.create(null);
      if (stamp !== 'missing') {
        const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<SigningKeysFile>;
        for (const [kid, entry] of Object.entries(parsed.keys ?? {})) keys[kid] = entry;
      }
    }
    return keys;
  };
  return {
    get: async (kid: string): Promise<string> => {
      const entry = current()[kid];
      if (!entry) throw new Error(`The key ${kid} does not exist`);
      return entry.retired ? '' : entry.secret;
    },
  };
}

/**
 * Loads the function with `config`; fields left out take the default stage's
 * values (`createConfig()`), so a test can name only what it changes.
 */
export function loadViewerFunction(config: Partial<ViewerConfig>): (event: ViewerEvent) => ViewerResult;
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
  const kvs = keyValueStore ? fileKeyValueStore(options.signingKeysFile as string) : undefined;
  const modules: Record<string, unknown> = {
    crypto: { createHmac, createHash },
    cloudfront: { kvs: () => kvs },
  };
  const sandbox = createContext({
    require: (name: string) => {
      if (name === 'crypto' || (name === 'cloudfront' && kvs)) return modules[name];
      throw new Error(`CloudFront Functions cannot require ${name}`);
    },
  });
  // A script context has no `import`: the runtime's `import x from 'm'` lines become requires of the same modules.
  const script = code.replace(/^import (\w+) from '(\w+)';$/gm, "var $1 = require('$2');");
  runInContext(script, sandbox, { filename: 'viewer-request.js' });
  const handler = (sandbox as { handler?: (event: ViewerEvent) => ViewerResult | Promise<ViewerResult> }).handler;
  if (typeof handler !== 'function') throw new Error('the viewer function defines no handler function');
  return (event) => {
    // A copy, as CloudFront hands each invocation its own event; the method survives as in the runtime.
    const copy = JSON.parse(JSON.stringify(event)) as ViewerEvent;
    if (event.request.rawQueryString) copy.request.rawQueryString = event.request.rawQueryString;
    return handler(copy);
  };
}

/** Builds the function's event from a raw query string and headers, names and values as sent. */
export function viewerEvent(
  method: string,
  uri: string,
  rawQuery: string,
  headers: Record<string, string>,
  ip: string,
): ViewerEvent {
  // Names are the client's: no prototype, so `__proto__` or `constructor` is just a name (issue 12).
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
  for (const [name, value] of Object.entries(headers)) viewerHeaders[name.toLowerCase()] = { value };
  return {
    version: '1.0',
    context: {
      distributionDomainName: 'd111111abcdef8.cloudfront.net',
      distributionId: 'ELOCALEXAMPLE',
      eventType: 'viewer-request',
      requestId: Math.random().toString(36).slice(2),
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
  return Object.entries(querystring)
    .map(([name, { value }]) => `${encodeURIComponent(name)}=${value}`)
    .join('&');
}

export function isViewerResponse(result: ViewerResult): result is ViewerResponse {
  return 'statusCode' in result;
}
