/**
 * AWS SDK clients, created by the adapters' callers and passed in (never at
 * module scope), with the timeouts and retries of `config.storage`. The SDK's
 * standard retry mode already backs off exponentially with full jitter. SSM is
 * no SDK client: its one call is a signed request of `ssm-parameter.ts`.
 */

import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { readSsmParameter, type SsmCredentials } from './ssm-parameter.js';

export interface ClientOptions {
  region: string;
  /** An S3- or DynamoDB-compatible endpoint (s3rver, dynalite); AWS when absent. */
  endpoint?: string;
  timeoutMs: number;
  maxAttempts: number;
  /**
   * Static credentials for local servers, or a provider (deployed: `fromEnv()`,
   * the variables Lambda sets); the SDK's whole default chain when absent.
   */
  credentials?: S3ClientConfig['credentials'];
}

/** Local servers accept any credentials; the SDK still wants some to sign with. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** Keep-alive: a warm Lambda reuses its TLS connections instead of paying a handshake per call. */
function keepAliveAgents(): { http: HttpAgent; https: Agent } {
  return {
    http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
    https: new Agent({ keepAlive: true, maxSockets: 64 }),
  };
}

function requestHandler(timeoutMs: number): NodeHttpHandler {
  const agents = keepAliveAgents();
  return new NodeHttpHandler({
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    // Without it the handler only logs a warning when the timeout passes and keeps waiting.
    throwOnRequestTimeout: true,
    httpAgent: agents.http,
    httpsAgent: agents.https,
  });
}

export function createS3Client(options: ClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    // s3rver (and any endpoint without wildcard DNS) needs path-style addressing.
    forcePathStyle: options.endpoint !== undefined,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts,
    requestHandler: requestHandler(options.timeoutMs),
    // Without these the SDK frames streamed PutObject bodies as aws-chunked with
    // trailing checksums, which S3-compatible servers store verbatim (corrupt).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function createDynamoClient(options: ClientOptions): DynamoDBClient {
  return new DynamoDBClient({
    region: options.region,
    endpoint: options.endpoint,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts,
    requestHandler: requestHandler(options.timeoutMs),
  });
}

/** Reads one SSM SecureString, decrypted; `signal` ends the read and its retries. */
export type SsmReader = (name: string, signal?: AbortSignal) => Promise<string>;

/**
 * SSM `GetParameter` through one signed request per attempt (no SDK client), with
 * `config.storage`'s attempts and its timeout as the bound of the whole read, over
 * keep-alive agents shared by every read of this reader. The endpoint is
 * `AWS_ENDPOINT_URL_SSM` when set, as the SDK's was.
 */
export function createSsmReader(
  options: Omit<ClientOptions, 'endpoint' | 'credentials'> & {
    credentials: SsmCredentials | (() => Promise<SsmCredentials>);
  },
): SsmReader {
  const agents = keepAliveAgents();
  return (name, signal) => readSsmParameter({ ...options, agents }, name, signal);
}
