/**
 * One SSM `GetParameter` (a SecureString, decrypted) as one signed HTTPS
 * request, instead of `@aws-sdk/client-ssm`: the product makes this one call
 * only (the master key at the edge; the master key, API token and distribution
 * id in the API), and the SDK client was ~85 kB of the origin-response bundle
 * that V8 compiles on every cold start.
 *
 * The request is what the SDK sends: `POST /` to `https://ssm.<region>.amazonaws.com`
 * (or `AWS_ENDPOINT_URL_SSM`, which the SDK honours too), AWS JSON 1.1, signed
 * with Signature V4 by `@smithy/signature-v4`, the signer the S3 client already
 * carries. Retries follow the SDK's standard mode: network errors, 5xx and
 * throttling are retried with full-jitter exponential backoff; a 4xx such as
 * `ParameterNotFound` or `AccessDeniedException` is final.
 */

import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { type Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SsmCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Set by Lambda for its role's temporary credentials; sent as `X-Amz-Security-Token`. */
  sessionToken?: string;
}

export interface SsmParameterOptions {
  /** Region of the parameter; names the endpoint and the signature's scope. */
  region: string;
  /**
   * Where to send the request. @default `AWS_ENDPOINT_URL_SSM`, else `AWS_ENDPOINT_URL`
   * (as the SDK reads them), else `https://ssm.<region>.amazonaws.com`
   */
  endpoint?: string;
  /** Static credentials or a provider (deployed: `fromEnv()`), resolved on every attempt. */
  credentials: SsmCredentials | (() => Promise<SsmCredentials>);
  /** The whole read, every attempt and every backoff, ends within this many ms. */
  timeoutMs: number;
  /** Attempts in all, the first included (the SDK's meaning). */
  maxAttempts: number;
  /** Keep-alive agents shared across reads; Node's global agents when absent. */
  agents?: { http?: HttpAgent; https?: HttpsAgent };
}

/**
 * A failed read. `type` is SSM's `__type` (`ParameterNotFound`,
 * `AccessDeniedException`, `ThrottlingException`…), or `TimeoutError`,
 * `NetworkError`, `InvalidResponse` for failures of our own; the message is
 * SSM's, never the parameter's value.
 */
export class SsmError extends Error {
  readonly type: string;
  /** HTTP status of the last answer, 0 when none came. */
  readonly status: number;
  readonly attempts: number;

  constructor(type: string, message: string, status: number, attempts: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = type;
    this.type = type;
    this.status = status;
    this.attempts = attempts;
  }
}

/** SSM answers at most an 8 KB value (advanced tier); anything much larger is not an SSM answer. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** The SDK's standard retry mode: 100 ms base, 20 s cap, full jitter. */
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 20_000;
/** Error types the SDK's standard mode retries although the status is 4xx. */
const RETRYABLE_TYPES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** The endpoint the SDK would use for SSM in `region`, given the environment. */
export function ssmEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_ENDPOINT_URL_SSM || env.AWS_ENDPOINT_URL || `https://ssm.${region}.amazonaws.com`;
}

/**
 * Reads one parameter, decrypted (`WithDecryption: true`), and returns its value.
 * Rejects with an `SsmError`, or with `signal.reason` once `signal` aborts.
 *
 * @example const keyHex = await readSsmParameter({ region: 'us-east-1', credentials: fromEnv(), timeoutMs: 5000, maxAttempts: 3 }, '/edge-resizer/dev/master-key');
 */
export async function readSsmParameter(
  options: SsmParameterOptions,
  name: string,
  signal?: AbortSignal,
): Promise<string> {
  signal?.throwIfAborted();
  const url = new URL(options.endpoint ?? ssmEndpoint(options.region));
  const body = JSON.stringify({ Name: name, WithDecryption: true });
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new SsmError('TimeoutError', `SSM GetParameter took over ${options.timeoutMs} ms`, 0, 0)),
    options.timeoutMs,
  );
  const both = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  const attempts = Math.max(1, options.maxAttempts);
  try {
    for (let attempt = 1; ; attempt += 1) {
      let failure: SsmError;
      // Outside the try: credentials that cannot be had (no AWS_ACCESS_KEY_ID) are not a network error to retry.
      const headers = await signSsmRequest(options, url, body, 'AmazonSSM.GetParameter');
      try {
        const answer = await send(url, headers, body, options.agents, both);
        if (answer.status === 200) return parameterValue(answer.body, attempt);
        failure = errorOf(answer, attempt);
      } catch (error) {
        if (both.aborted) throw abortReason(both, attempt);
        if (error instanceof SsmError) throw error;
        failure = new SsmError('NetworkError', `SSM GetParameter failed: ${(error as Error).message}`, 0, attempt, {
          cause: error,
        });
      }
      if (attempt >= attempts || !retryable(failure)) throw failure;
      const delay = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
      // A retry that cannot start before the deadline is not worth waiting for: SSM's own answer says more.
      if (performance.now() + delay >= started + options.timeoutMs) throw failure;
      await sleep(delay, both).catch(() => {
        throw signal?.aborted ? signal.reason : failure;
      });
    }
  } finally {
    clearTimeout(timer);
  }
}

function retryable(error: SsmError): boolean {
  return (
    error.type === 'NetworkError' || error.status >= 500 || error.status === 429 || RETRYABLE_TYPES.has(error.type)
  );
}

/** The caller's own reason when its signal ended the read, else our timeout, with the attempt count. */
function abortReason(signal: AbortSignal, attempt: number): unknown {
  const reason: unknown = signal.reason;
  if (reason instanceof SsmError) return new SsmError(reason.type, reason.message, 0, attempt);
  return reason;
}

/** SHA-256 and HMAC-SHA256 over node:crypto, in the shape the signer wants (`Checksum`). */
export class Sha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.create();
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.create();
  }
  private create(): Hash | Hmac {
    const secret = this.secret;
    if (secret === undefined) return createHash('sha256');
    const key =
      typeof secret === 'string'
        ? secret
        : ArrayBuffer.isView(secret)
          ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
          : Buffer.from(secret);
    return createHmac('sha256', key);
  }
}

/** Signs one SSM JSON 1.1 request (its `X-Amz-Target`) with Signature V4; the request's headers. */
export async function signSsmRequest(
  options: Pick<SsmParameterOptions, 'region' | 'credentials'>,
  url: URL,
  body: string,
  target: 'AmazonSSM.GetParameter' | 'AmazonSSM.PutParameter',
): Promise<Record<string, string>> {
  const credentials = typeof options.credentials === 'function' ? await options.credentials() : options.credentials;
  const signer = new SignatureV4({ service: 'ssm', region: options.region, credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: {},
    headers: {
      host: url.host,
      'content-type': 'application/x-amz-json-1.1',
      'content-length': String(Buffer.byteLength(body)),
      'x-amz-target': target,
    },
    body,
  });
  return signed.headers;
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

function send(
  url: URL,
  headers: Record<string, string>,
  body: string,
  agents: SsmParameterOptions['agents'],
  signal: AbortSignal,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(
      url,
      { method: 'POST', headers, signal, agent: https ? agents?.https : agents?.http },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            reject(
              new SsmError('InvalidResponse', `SSM answered over ${MAX_RESPONSE_BYTES} bytes`, res.statusCode ?? 0, 0),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        // Node reports a connection closed mid-answer as an error; this makes sure it never just ends quietly.
        res.on('close', () => {
          if (!res.complete) reject(new Error('the connection closed before the answer ended'));
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function parameterValue(body: Buffer, attempt: number): string {
  let parsed: { Parameter?: { Value?: unknown } } | undefined;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // Falls through to the error below; the text is not echoed (it could hold the value).
  }
  const value = parsed?.Parameter?.Value;
  if (typeof value !== 'string') {
    throw new SsmError('InvalidResponse', 'SSM answered 200 without Parameter.Value', 200, attempt);
  }
  return value;
}

/**
 * SSM's error: `__type` (or `x-amzn-ErrorType`), maybe prefixed with a namespace
 * (`com.amazonaws.ssm#ParameterNotFound`) and suffixed with a URL after `:`, as
 * the SDK strips them; the message is `message` or `Message`, sometimes absent.
 */
function errorOf(answer: Answer, attempt: number): SsmError {
  let parsed: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    const json: unknown = JSON.parse(answer.body.toString('utf8'));
    if (json && typeof json === 'object') parsed = json;
  } catch {
    // Not JSON (a proxy's page): the status alone says what happened.
  }
  const raw = String(parsed.__type ?? answer.headers['x-amzn-errortype'] ?? '');
  const type = raw.split(':')[0]?.split('#').pop() || `Http${answer.status}`;
  const message = typeof parsed.message === 'string' ? parsed.message : (parsed.Message ?? '');
  return new SsmError(
    type,
    `SSM GetParameter answered ${answer.status} ${type}${message ? `: ${String(message)}` : ''}`,
    answer.status,
    attempt,
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
