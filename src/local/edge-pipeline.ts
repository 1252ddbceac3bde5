/**
 * What CloudFront does on a cache miss for an image URL, for the local CDN and
 * the tests: run the real origin-request handler, GET the derivative from the
 * S3 origin over HTTP as CloudFront's S3 origin would, run the real
 * origin-response handler with S3's answer, and check each trigger's result the
 * way CloudFront checks it, so a handler bug shows up here, not after deploy.
 */
import { STATUS_CODES } from 'node:http';
import { errorBody, HttpError } from '../core/errors.js';
import type {
  CloudFrontHeaders,
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontResponse,
  CloudFrontResponseEvent,
  CloudFrontResultResponse,
} from '../edge/cloudfront.js';
import type { OriginRequestHandler } from '../edge/origin-request.js';
import type { OriginResponseHandler } from '../edge/origin-response.js';
import {
  checkOriginRequestResult,
  checkOriginResponseResult,
  copyHeaders,
  DISALLOWED_HEADER,
  isGeneratedResponse,
  VALIDATION_FAILED,
} from '../edge/result-rules.js';

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
/** Framing of one connection: CloudFront frames what it sends the viewer itself. */
const FRAMING_HEADERS = new Set(['transfer-encoding', 'content-length']);

export function createEdgePipeline(options: EdgePipelineOptions) {
  const { originRequest, derivativesOrigin, originKey = (key: string) => key } = options;
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
    const sent = { ...request, headers: copyHeaders(request.headers) };
    const forwarded = await invoke(() => originRequest(requestEvent));
    if (!forwarded.ok) return forwarded.response;
    const requestProblem = checkOriginRequestResult(sent, forwarded.value);
    if (requestProblem) return validationError(requestProblem);
    if (isGeneratedResponse(forwarded.value)) return toViewer(forwarded.value);

    const originRequestResult = forwarded.value as CloudFrontRequest;
    const s3 = await fetchFromOrigin(originRequestResult);
    const originResponse: CloudFrontResponse = {
      status: String(s3.status),
      statusDescription: s3.statusText,
      headers: s3.headers,
    };
    const received = { ...originResponse, headers: copyHeaders(originResponse.headers) };
    const responseEvent: CloudFrontResponseEvent = {
      Records: [
        {
          cf: {
            config: { ...DISTRIBUTION, eventType: 'origin-response', requestId },
            request: originRequestResult,
            response: originResponse,
          },
        },
      ],
    };
    const answered = await invoke(() => options.originResponse(responseEvent));
    if (!answered.ok) return answered.response;
    const result = answered.value;
    const responseProblem = checkOriginResponseResult(received, result);
    if (responseProblem) return validationError(responseProblem);
    if ('body' in result && result.body !== undefined) return toViewer(result);
    // The trigger passed S3's response through (maybe with headers changed): S3's body goes to the viewer.
    return { status: Number(result.status), headers: fromHeaders(result.headers ?? {}), body: s3.body };
  };

  async function fetchFromOrigin(request: CloudFrontRequest) {
    try {
      // One signal for the headers and the body: a body that stalls halfway times out too.
      const response = await fetch(`${derivativesOrigin}/${originKey(request.uri.slice(1))}`, {
        method: request.method === 'HEAD' ? 'HEAD' : 'GET',
        signal: AbortSignal.timeout(originTimeoutMs),
      });
      // S3's answer as it came (status, `Transfer-Encoding: chunked`, `Date`, `Server`, `x-amz-*`),
      // but for the headers CloudFront never shows a function (`Connection`, `Keep-Alive`).
      const headers: CloudFrontHeaders = {};
      response.headers.forEach((value, name) => {
        if (!DISALLOWED_HEADER.test(name)) headers[name] = [{ key: name, value }];
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
      return {
        status,
        statusText: STATUS_CODES[status] ?? '',
        headers: {} as CloudFrontHeaders,
        body: Buffer.alloc(0),
      };
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
      response: cloudFrontError(
        503,
        'LambdaExecutionError',
        new HttpError('busy', 'The Lambda function returned an error (LambdaExecutionError)'),
      ),
    };
  }
}

/** A generated response (checked already) as the viewer gets it. */
function toViewer(result: CloudFrontResultResponse): EdgeResponse {
  const body = Buffer.from(result.body ?? '', result.bodyEncoding === 'base64' ? 'base64' : 'utf8');
  return { status: Number(result.status), headers: fromHeaders(result.headers ?? {}), body };
}

/** CloudFront's answer to a result that fails validation: 502, `X-Cache: LambdaValidationError`, its words. */
function validationError(reason: string): EdgeResponse {
  return cloudFrontError(
    502,
    'LambdaValidationError',
    new HttpError('lambda_validation_error', `${VALIDATION_FAILED}: ${reason}.`),
  );
}

function cloudFrontError(status: number, xCache: string, error: HttpError): EdgeResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-cache': `${xCache} from cloudfront`,
    },
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
  for (const [name, list] of Object.entries(headers))
    if (list[0] && !FRAMING_HEADERS.has(name)) plain[name] = list[0].value;
  return plain;
}
