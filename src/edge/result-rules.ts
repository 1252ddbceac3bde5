/**
 * What CloudFront checks in a Lambda@Edge function's result before it uses
 * it, and answers with a 502 (`LambdaValidationError`) when a check fails.
 * One source for the rules: the local CDN's edge pipeline applies them to
 * every trigger result, and the deploy tests apply them to the packaged
 * handlers' results. Read from the CloudFront Developer Guide: "Restrictions
 * on all edge functions" (disallowed and read-only headers, URI and query
 * string), "Restrictions on Lambda@Edge", "Lambda@Edge event structure"
 * (which fields are read-only, the generated response's shape) and "Quotas
 * on Lambda@Edge" (the generated response's size). Where a page leaves room,
 * the stricter reading is taken and said below.
 *
 * Each check answers the reason in CloudFront's words, or undefined when the
 * result passes.
 */
import { LAMBDA_GENERATED_RESPONSE_LIMIT_BYTES } from '../core/config.js';
import {
  type CloudFrontHeaders,
  type CloudFrontRequest,
  type CloudFrontResponse,
  type CloudFrontResultResponse,
  generatedResponseSize,
} from './cloudfront.js';

export type EdgeEventType = 'viewer-request' | 'origin-request' | 'origin-response' | 'viewer-response';

/** What CloudFront prefixes every validation failure with. */
export const VALIDATION_FAILED = 'The Lambda function result failed validation';
export const READ_ONLY_REASON = 'The function tried to add, delete, or change a read-only header';

/**
 * Headers a function may read but not add, delete or change, per event type
 * ("Restrictions on all edge functions", read-only headers).
 */
export const READ_ONLY_HEADERS: Readonly<Record<EdgeEventType, readonly string[]>> = {
  'viewer-request': ['content-length', 'host', 'transfer-encoding', 'via'],
  'origin-request': [
    'accept-encoding',
    'content-length',
    'if-modified-since',
    'if-none-match',
    'if-range',
    'if-unmodified-since',
    'range',
    'transfer-encoding',
    'via',
  ],
  'origin-response': ['transfer-encoding', 'via'],
  'viewer-response': ['content-encoding', 'content-length', 'transfer-encoding', 'warning', 'via'],
};

/**
 * Headers CloudFront never shows a function and never lets one add
 * ("Restrictions on all edge functions", disallowed headers). `X-Accel-*`
 * as a whole, though the page names four of them: the stricter reading.
 */
export const DISALLOWED_HEADER =
  /^(connection|expect|keep-alive|proxy-authenticate|proxy-authorization|proxy-connection|trailer|upgrade|x-accel-.*|x-amz-cf-.*|x-amzn-auth|x-amzn-cf-billing|x-amzn-cf-id|x-amzn-cf-xff|x-amzn-errortype|x-amzn-fle-profile|x-amzn-header-count|x-amzn-header-order|x-amzn-lambda-integration-tag|x-amzn-requestid|x-cache|x-edge-.*|x-forwarded-proto|x-real-ip)$/;

/** URI plus query, in characters ("Restrictions on all edge functions", URI). */
export const MAX_URL_CHARS = 8192;

/** Statuses that carry no body (RFC 9110): a generated one with a body is refused, the safe reading. */
const BODILESS_STATUSES = new Set([204, 304]);

/** Header lists as CloudFront reads them: lower-case keys, non-empty lists of string values, none disallowed. */
export function checkHeaders(headers: unknown): string | undefined {
  if (headers === undefined) return undefined;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return 'The headers are not an object';
  for (const [name, list] of Object.entries(headers as Record<string, unknown>)) {
    if (name !== name.toLowerCase()) return `The header ${name} is not keyed in lower case`;
    if (!Array.isArray(list) || list.length === 0) return `The header ${name} is not a list of values`;
    for (const entry of list as { key?: unknown; value?: unknown }[]) {
      if (typeof entry?.value !== 'string') return `The header ${name} has a value that is not a string`;
      if (entry.key !== undefined && (typeof entry.key !== 'string' || entry.key.toLowerCase() !== name))
        return `The header ${name} has the key ${String(entry.key)}`;
    }
    if (DISALLOWED_HEADER.test(name)) return `The function tried to add a disallowed header (${name})`;
  }
  return undefined;
}

/** The read-only headers of `eventType` in `after` exactly as in `before`: same names, same values, same order. */
export function checkReadOnlyHeaders(
  eventType: EdgeEventType,
  before: CloudFrontHeaders,
  after: CloudFrontHeaders | undefined,
): string | undefined {
  for (const name of READ_ONLY_HEADERS[eventType]) {
    const was = (before[name] ?? []).map((header) => header.value);
    const is = (after?.[name] ?? []).map((header) => header.value);
    if (was.length !== is.length || was.some((value, i) => value !== is[i])) return `${READ_ONLY_REASON} (${name})`;
  }
  return undefined;
}

/** A generated response's status, encoding, body and size. */
export function checkGeneratedResponse(result: CloudFrontResultResponse): string | undefined {
  const status = typeof result.status === 'string' && /^\d{3}$/.test(result.status) ? Number(result.status) : NaN;
  // "Lambda@Edge event structure": `status` is the HTTP status code, as a string.
  if (!(status >= 200 && status <= 599)) return `The status ${String(result.status)} is not an HTTP status code`;
  const headersProblem = checkHeaders(result.headers);
  if (headersProblem) return headersProblem;
  const encoding = result.bodyEncoding ?? 'text';
  if (encoding !== 'text' && encoding !== 'base64')
    return `The body encoding ${String(encoding)} is not text or base64`;
  if (result.body !== undefined && typeof result.body !== 'string') return 'The body is not a string';
  if (encoding === 'base64' && result.body && !/^[A-Za-z0-9+/]*={0,2}$/.test(result.body))
    return 'The body is not valid base64';
  if (BODILESS_STATUSES.has(status) && result.body) return `A ${status} response cannot have a body`;
  const size = generatedResponseSize(result);
  // "Quotas on Lambda@Edge": 1 MB, read as 1,000,000 bytes (see LAMBDA_GENERATED_RESPONSE_LIMIT_BYTES).
  if (size > LAMBDA_GENERATED_RESPONSE_LIMIT_BYTES)
    return `The generated response is ${size} bytes, over the limit of ${LAMBDA_GENERATED_RESPONSE_LIMIT_BYTES}`;
  return undefined;
}

/**
 * An origin-request result: either a generated response, or the request
 * CloudFront forwards. A forwarded request keeps the read-only fields
 * (`clientIp`, `method`) and headers; its URI starts with `/`; URI and query
 * are URL-encoded (printable ASCII, no space, no `#`), the query without its
 * `?`, together at most 8,192 characters.
 */
export function checkOriginRequestResult(
  before: CloudFrontRequest,
  result: CloudFrontRequest | CloudFrontResultResponse,
): string | undefined {
  if (isGeneratedResponse(result)) return checkGeneratedResponse(result);
  const request = result as CloudFrontRequest;
  if (request.method !== before.method) return 'The function tried to change the read-only field method';
  if (request.clientIp !== before.clientIp) return 'The function tried to change the read-only field clientIp';
  if (typeof request.uri !== 'string' || !request.uri.startsWith('/')) return 'The URI does not start with /';
  if (!/^[\x21-\x7e]*$/.test(request.uri) || /[?#]/.test(request.uri))
    return 'The URI is not URL-encoded (printable ASCII without ?, # or spaces)';
  if (typeof request.querystring !== 'string') return 'The query string is not a string';
  if (!/^[\x21-\x7e]*$/.test(request.querystring) || /[?#]/.test(request.querystring))
    return 'The query string is not URL-encoded (printable ASCII without ?, # or spaces)';
  if (request.uri.length + request.querystring.length + 1 > MAX_URL_CHARS)
    return `The URI and query string are longer than ${MAX_URL_CHARS} characters`;
  return checkHeaders(request.headers) ?? checkReadOnlyHeaders('origin-request', before.headers, request.headers);
}

/**
 * An origin-response result, the origin's response changed or a generated
 * one: either way the origin's read-only headers come back as they were.
 */
export function checkOriginResponseResult(
  origin: CloudFrontResponse,
  result: CloudFrontResponse | CloudFrontResultResponse,
): string | undefined {
  const problem =
    'body' in result && result.body !== undefined
      ? checkGeneratedResponse(result)
      : checkGeneratedResponse({ status: result.status, headers: result.headers });
  return problem ?? checkReadOnlyHeaders('origin-response', origin.headers, result.headers);
}

/** A result with a status and no URI is a response, not a request. */
export function isGeneratedResponse(
  result: CloudFrontRequest | CloudFrontResultResponse,
): result is CloudFrontResultResponse {
  return 'status' in result && !('uri' in result);
}

/** A deep copy of headers, taken before a handler runs (handlers change their event in place). */
export function copyHeaders(headers: CloudFrontHeaders): CloudFrontHeaders {
  const copy: CloudFrontHeaders = {};
  for (const [name, list] of Object.entries(headers)) copy[name] = list.map((header) => ({ ...header }));
  return copy;
}
