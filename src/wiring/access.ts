/**
 * How a composition reaches AWS — the one thing that differs between the
 * deployed functions and the local CDN. Deployed: the function role's
 * credentials from the environment Lambda sets, AWS's endpoints (or the
 * SDK's own `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_CLOUDFRONT`, which the deploy tests
 * set). Locally: s3rver and dynalite with static credentials (wiring/local.ts).
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { EdgeResizerConfig } from '../core/config.js';
import type { ClientOptions } from '../storage/clients.js';
import { IDENTITY_KEY_CODEC, type KeyCodec, S3RVER_KEY_CODEC } from '../storage/key-codec.js';
import type { S3StoreOptions } from '../storage/s3-store.js';
import type { SsmCredentials } from '../storage/ssm-parameter.js';

export interface AwsAccess {
  /** Static credentials, or a provider (deployed: `fromEnv()`). */
  credentials: SsmCredentials | (() => Promise<SsmCredentials>);
  /** An S3-compatible endpoint; AWS (or `AWS_ENDPOINT_URL_S3`) when absent. */
  s3Endpoint?: string;
  /** A DynamoDB-compatible endpoint; AWS (or `AWS_ENDPOINT_URL_DYNAMODB`) when absent. */
  dynamoEndpoint?: string;
  /**
   * `s3rver`: the server behind `s3Endpoint` stores each key segment as a file
   * name of at most 255 bytes (long segments are split, key-codec.ts) and
   * pages listings only with `start-after`. @default 's3'
   */
  s3Dialect?: 's3' | 's3rver';
}

/** What a deployed function uses: its role's credentials, AWS's endpoints. */
export function deployedAccess(): AwsAccess {
  return { credentials: fromEnv() };
}

export function clientOptions(config: EdgeResizerConfig, access: AwsAccess, endpoint: string | undefined) {
  return {
    region: config.region,
    ...config.storage,
    credentials: access.credentials as ClientOptions['credentials'],
    endpoint,
  } satisfies ClientOptions;
}

/** The store options for this access: buckets from the config, the dialect's key spelling and paging. */
export function storeOptions(
  config: EdgeResizerConfig,
  access: AwsAccess,
  client: S3StoreOptions['client'],
): S3StoreOptions {
  const s3rver = access.s3Dialect === 's3rver';
  const keyCodec: KeyCodec = s3rver ? S3RVER_KEY_CODEC : IDENTITY_KEY_CODEC;
  return {
    client,
    originalsBucket: config.originalsBucket,
    derivativesBucket: config.derivativesBucket,
    keyCodec,
    ...(s3rver ? { pagination: 'start-after' as const } : {}),
  };
}
