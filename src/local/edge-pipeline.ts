/**
 * What CloudFront does on a cache miss for an image URL, for the local CDN and
 * the tests: run the real origin-request handler, GET the derivative from the
 * S3 origin over HTTP as CloudFront's S3 origin would, run the real
 * origin-response handler with S3's answer, and check each trigger's result the
 * way CloudFront checks it, so a handler bug shows up here, not after deploy.
 */
import { STATUS_CODES } from 'node:http';
import { GENERATED_RESPONSE_LIMIT_BYTES } from '../core/config.js';
import { errorBody, HttpError } from '../core/errors.js';
import {
  type CloudFrontHeaders,
  type CloudFrontRequest,
  type CloudFrontRequestEvent,
  type CloudFrontResponse,
  type CloudFrontResponseEvent,
  type CloudFrontResultResponse,
  generatedResponseSize,
} from '../edge/cloudfront.js';
import type { OriginRequestHandler } from '../edge/origin-request.js';
import type { OriginResponseHandler } from '../edge/origin-response.js';

export interface ViewerRequest {
  method: string;
  /** Path as received, still percent-encoded. */
  uri: string;
  /** Query string without `?`. */
  querystring: string;
  headers: Record<string, string>;
  clientIp?: string;
}

export interface EdgeResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface EdgePipelineOptions {
  originRequest: OriginRequestHandler;
  originResponse: OriginResponseHandler;
  /** The derivatives bucket as CloudFront's S3 origin sees it, e.g. `http://127.0.0.1:4569/edge-resizer-derivatives`. */
  derivativesOrigin: string;
  /**
   * How long the S3 origin may take to answer, body included: CloudFront's origin response
   * timeout. The local CDN passes its storage timeout, so a stalled S3 cannot hold a miss
   * (and its admission slot) forever. @default 30000
   */
  originTimeoutMs?: number;
  /** How the S3 origin spells a derivative key (s3rver's key codec locally). @default the key as it is */
  originKey?: (key: string) => string;
}

/** CloudFront's default origin response timeout. */
export const DEFAULT_ORIGIN_TIMEOUT_MS = 30_000;

const DISTRIBUTION = { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'ELOCALEXAMPLE' };
/** Headers a trigger may not set (Lambda@Edge "Restrictions on edge functions"). */
const DISALLOWED_HEADERS =
  /^(connection|expect|keep-alive|proxy-authenticate|proxy-authorization|proxy-connection|trailer|upgrade|x-accel-.*|x-amz-cf-.*|x-cache|x-edge-.*|x-forwarded-proto|x-real-ip|transfer-encoding|via)$/;

export function createEdgePipeline(options: EdgePipelineOptions) {
  const { originRequest, originResponse, derivativesOrigin, originKey = (key: string) => key } = options;
  const originTimeoutMs = options.originTimeoutMs ?? DEFAULT_ORIGIN_TIMEOUT_MS;

  return async function handle(viewer: ViewerRequest): Promise<EdgeResponse> {
    const requestId = Math.random().toString(36).slice(2);
    const request: CloudFrontRequest = {
      clientIp: viewer.clientIp ?? '127.0.0.1',
      method: viewer.method,
      uri: viewer.uri,
      querystring: viewer.querystring,
      headers: toHeaders(viewer.headers),
      origin: {
        s3: {
          authMethod: 'origin-access-control',
          customHeaders: {},
          domainName: derivativesOrigin,
          path: '',
          region: 'us-east-1',
        },
      },
    };
    const requestEvent: CloudFrontRequestEvent = {
      Records: [{ cf: { config: { ...DISTRIBUTION, eventType: 'origin-request', requestId }, request } }],
    };
    const forwarded = await invoke(() => originRequest(requestEvent));
    if (!forwarded.ok) return forwarded.response;
    if (isGenerated(forwarded.value)) return checkGenerated(forwarded.value);

    const originRequestResult = forwarded.value as CloudFrontRequest;
    const s3 = await fetchFromOrigin(originRequestResult);
    const responseEvent: CloudFrontResponseEvent = {
      Records: [
        {
          cf: {
            config: { ...DISTRIBUTION, eventType: 'origin-response', requestId },
            request: originRequestResult,
            response: { status: String(s3.status), statusDescription: s3.statusText, headers: toHeaders(s3.headers) },
          },
        },
      ],
    };
    const answered = await invoke(() => originResponse(responseEvent));
    if (!answered.ok) return answered.response;
    const result = answered.value;
    if ('body' in result && result.body !== undefined) return checkGenerated(result);
    // The trigger passed S3's response through (maybe with headers changed): S3's body goes to the viewer.
    const passed = result as CloudFrontResponse;
    const validation = validateHeaders(passed.headers);
    if (validation) return validation;
    return { status: Number(passed.status), headers: fromHeaders(passed.headers), body: s3.body };
  };

  async function fetchFromOrigin(request: CloudFrontRequest) {
    try {
      // One signal for the headers and the body: a body that stalls halfway times out too.
      const response = await fetch(`${derivativesOrigin}/${originKey(request.uri.slice(1))}`, {
        method: request.method === 'HEAD' ? 'HEAD' : 'GET',
        signal: AbortSignal.timeout(originTimeoutMs),
      });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        if (!/^(connection|keep-alive|transfer-encoding|date|x-amz-request-id|x-amz-id-2|server)$/.test(name))
          headers[name] = value;
      });
      return {
        status: response.status,
        statusText: response.statusText,
        headers,
        body: Buffer.from(await response.arrayBuffer()),
      };
    } catch (error) {
      // CloudFront answers an origin that times out with 504 and a failed connection with 502;
      // the origin-response trigger sees that status.
      const status = error instanceof Error && error.name === 'TimeoutError' ? 504 : 502;
      return { status, statusText: STATUS_CODES[status] ?? '', headers: {}, body: Buffer.alloc(0) };
    }
  }
}

type Invocation<T> = { ok: true; value: T } | { ok: false; response: EdgeResponse };

/** A trigger that throws or rejects gets CloudFront's 503 (LambdaExecutionError). */
async function invoke<T>(run: () => Promise<T>): Promise<Invocation<T>> {
  try {
    return { ok: true, value: await run() };
  } catch {
    return {
      ok: false,
      response: cloudFrontError(503, new HttpError('busy', 'The Lambda function failed (LambdaExecutionError)')),
    };
  }
}

function isGenerated(result: CloudFrontRequest | CloudFrontResultResponse): result is CloudFrontResultResponse {
  return 'status' in result && !('uri' in result);
}

function checkGenerated(result: CloudFrontResultResponse): EdgeResponse {
  const status = Number(result.status);
  if (!Number.isInteger(status) || status < 200 || status > 599)
    return validationError('the status is not an HTTP status code');
  const invalid = validateHeaders(result.headers ?? {});
  if (invalid) return invalid;
  if (generatedResponseSize(result) > GENERATED_RESPONSE_LIMIT_BYTES) {
    return validationError('the generated response is larger than 1 MB');
  }
  const encoding = result.bodyEncoding ?? 'text';
  if (encoding === 'base64' && result.body && !/^[A-Za-z0-9+/]*={0,2}$/.test(result.body)) {
    return validationError('the body is not valid base64');
  }
  const body = Buffer.from(result.body ?? '', encoding === 'base64' ? 'base64' : 'utf8');
  return { status, headers: fromHeaders(result.headers ?? {}), body };
}

function validateHeaders(headers: CloudFrontHeaders): EdgeResponse | undefined {
  for (const [name, list] of Object.entries(headers)) {
    if (name !== name.toLowerCase()) return validationError(`header ${name} is not keyed in lower case`);
    if (!Array.isArray(list) || list.length === 0) return validationError(`header ${name} is not a list of values`);
    for (const entry of list) {
      if (typeof entry.value !== 'string') return validationError(`header ${name} has a value that is not a string`);
      if (entry.key !== undefined && entry.key.toLowerCase() !== name)
        return validationError(`header ${name} has key ${entry.key}`);
    }
    if (DISALLOWED_HEADERS.test(name)) return validationError(`header ${name} may not be set by a trigger`);
  }
  return undefined;
}

function validationError(reason: string): EdgeResponse {
  return cloudFrontError(
    502,
    new HttpError('lambda_validation_error', `The Lambda function returned an invalid response: ${reason}`),
  );
}

function cloudFrontError(status: number, error: HttpError): EdgeResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: Buffer.from(JSON.stringify(errorBody(error))),
  };
}

function toHeaders(plain: Record<string, string>): CloudFrontHeaders {
  const headers: CloudFrontHeaders = {};
  for (const [name, value] of Object.entries(plain)) headers[name.toLowerCase()] = [{ key: name, value }];
  return headers;
}

function fromHeaders(headers: CloudFrontHeaders): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const [name, list] of Object.entries(headers)) if (list[0]) plain[name] = list[0].value;
  return plain;
}
