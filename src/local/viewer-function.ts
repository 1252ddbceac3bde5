/**
 * Runs the viewer-request CloudFront Function (`src/edge/viewer-request.js`)
 * locally: the same file, with the same config token substitution `sls package`
 * does, in a fresh VM context whose only import is `crypto`, as in
 * cloudfront-js-2.0.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createContext, runInContext } from 'node:vm';

/** The settings substituted for `__VIEWER_CONFIG__`. */
export interface ViewerConfig {
  signingSecret: string | null;
  defaultQuality: number;
  allowedWidths: number[];
  widthPolicy: 'reject' | 'snap';
  maxDimension: number;
}

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
  };
}

export interface ViewerResponse {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, ViewerValue>;
  body?: string | { encoding: 'text' | 'base64'; data: string };
}

export type ViewerResult = ViewerEvent['request'] | ViewerResponse;

const require = createRequire(import.meta.url);
// The same helper `sls package` uses, so local and deployed code are substituted alike.
const { renderViewerFunction } = require('../../scripts/sls-viewer-function.cjs') as {
  renderViewerFunction: (source: string, config: ViewerConfig) => string;
};

export const VIEWER_FUNCTION_PATH = new URL('../edge/viewer-request.js', import.meta.url);

export function loadViewerFunction(config: ViewerConfig): (event: ViewerEvent) => ViewerResult {
  const code = renderViewerFunction(readFileSync(VIEWER_FUNCTION_PATH, 'utf8'), config);
  const sandbox = createContext({
    require: (name: string) => {
      if (name === 'crypto') return { createHmac, createHash: require('node:crypto').createHash };
      throw new Error(`CloudFront Functions cannot require ${name}`);
    },
  });
  runInContext(code, sandbox, { filename: 'viewer-request.js' });
  const handler = (sandbox as { handler?: (event: ViewerEvent) => ViewerResult }).handler;
  if (typeof handler !== 'function') throw new Error('viewer-request.js defines no handler function');
  return (event) => handler(JSON.parse(JSON.stringify(event)) as ViewerEvent);
}

/** Builds the function's event from a raw query string and headers, values as sent. */
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
    const name = decodeSafely(eq === -1 ? pair : pair.slice(0, eq));
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
    request: { method, uri, querystring, headers: viewerHeaders, cookies: {} },
  };
}

/** The function's query object back into a query string, in the order it left it. */
export function toQueryString(querystring: Record<string, ViewerValue>): string {
  return Object.entries(querystring)
    .map(([name, { value }]) => `${encodeURIComponent(name)}=${value}`)
    .join('&');
}

export function isViewerResponse(result: ViewerResult): result is ViewerResponse {
  return 'statusCode' in result;
}

function decodeSafely(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
