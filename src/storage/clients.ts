/**
 * AWS SDK clients, created by the adapters' callers and passed in (never at
 * module scope), with the timeouts and retries of `config.storage`. The SDK's
 * standard retry mode already backs off exponentially with full jitter.
 */

import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';

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

function requestHandler(timeoutMs: number): NodeHttpHandler {
  // Keep-alive: a warm Lambda reuses its TLS connections instead of paying a handshake per call.
  return new NodeHttpHandler({
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    // Without it the handler only logs a warning when the timeout passes and keeps waiting.
    throwOnRequestTimeout: true,
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new Agent({ keepAlive: true, maxSockets: 64 }),
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

export function createSsmClient(options: Omit<ClientOptions, 'endpoint'>): SSMClient {
  return new SSMClient({
    region: options.region,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts,
    requestHandler: requestHandler(options.timeoutMs),
  });
}
