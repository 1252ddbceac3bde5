/**
 * The composition of the API function, deployed and local alike: S3 (the
 * originals and derivatives buckets, and the staging bucket of staged
 * uploads), DynamoDB (the table CloudFormation made; the API role may not
 * create one), SSM (master key, API token, distribution id) and CloudFront
 * (invalidations). Only `access` (wiring/access.ts) differs between the two,
 * plus the stand-ins the local CDN brings for what AWS has and a laptop does
 * not: its token file, its edge cache's invalidation, the address where a
 * browser reaches its S3 for part uploads.
 */
import { randomUUID } from 'node:crypto';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import type { ApiDeps } from '../api/app.js';
import { createOriginCheck } from '../api/auth.js';
import type { EdgeResizerConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import {
  type ClientOptions,
  createDynamoClient,
  createS3Client,
  createSsmReader,
  type SsmReader,
} from '../storage/clients.js';
import { createMasterKeyProvider, createParameterReader } from '../storage/master-key.js';
import { createMetadataStore } from '../storage/metadata-store.js';
import { createS3Store } from '../storage/s3-store.js';
import { createStagingStore } from '../storage/staging-store.js';
import { type AwsAccess, clientOptions, deployedAccess, storeOptions } from './access.js';

/** SSM SecureString holding the deployed API token (create it once per stage; the API role reads it). */
export const apiTokenParameterName = (stage: string) => `/edge-resizer/${stage}/api-token`;
/** SSM String the stack writes with the distribution id, for invalidations (serverless.yml `distributionIdParameter`). */
export const distributionIdParameterName = (stage: string) => `/edge-resizer/${stage}/distribution-id`;

/** SSM String the stack writes with CloudFront's origin-verify header value (serverless.yml `originVerifyParameter`). */
export const originVerifyParameterName = (stage: string) => `/edge-resizer/${stage}/origin-verify`;

export interface ApiWiringOptions {
  /** The bearer token `/api/*` takes. @default the stage's SSM SecureString, read once per container */
  apiToken?: () => Promise<string>;
  /** Invalidates `/<key>*`. @default a CloudFront invalidation of the stage's distribution (its id from SSM) */
  invalidate?: (key: string) => Promise<void>;
  /**
   * Where clients PUT staged upload parts and the credentials their URLs are
   * signed with, when that is not the S3 the API itself talks to (the local
   * CDN's part door, which checks the signature with its own secret).
   * @default `access.s3Endpoint` and `access.credentials`
   */
  partUrls?: { endpoint: string; credentials: ClientOptions['credentials'] };
  /**
   * Refuse requests without CloudFront's origin-verify header, so the function
   * URL is reachable only through the distribution. `false` for the local CDN,
   * which has no function URL to go around. @default true
   */
  checkOrigin?: boolean;
  logger?: Logger;
  /** @default 1 hour */
  stagedUploadTtlSeconds?: number;
}

export interface ApiWiring extends ApiDeps {
  /** Destroys the clients (their kept-alive sockets); a Lambda container never calls it. */
  close(): void;
}

export function createApiWiring(
  config: EdgeResizerConfig,
  access: AwsAccess,
  options: ApiWiringOptions = {},
): ApiWiring {
  const s3Client = createS3Client(clientOptions(config, access, access.s3Endpoint));
  const dynamoClient = createDynamoClient(clientOptions(config, access, access.dynamoEndpoint));
  const presignClient =
    options.partUrls === undefined
      ? s3Client
      : createS3Client({
          ...clientOptions(config, access, options.partUrls.endpoint),
          credentials: options.partUrls.credentials,
        });
  const readParameter = createSsmReader({ region: config.region, ...config.storage, credentials: access.credentials });

  return {
    config,
    store: createS3Store(storeOptions(config, access, s3Client)),
    metadata: createMetadataStore({ client: dynamoClient, table: config.metadataTable, createIfMissing: false }),
    staging: createStagingStore({ client: s3Client, bucket: config.stagingBucket, presignClient }),
    masterKey: createMasterKeyProvider(config.masterKey, readParameter),
    apiToken: options.apiToken ?? createParameterReader(readParameter, apiTokenParameterName(config.stage)),
    ...(options.checkOrigin === false
      ? {}
      : { checkOrigin: createOriginCheck(() => readParameter(originVerifyParameterName(config.stage))) }),
    invalidate: options.invalidate ?? createCloudFrontInvalidation(config, access, readParameter),
    logger: options.logger,
    stagedUploadTtlSeconds: options.stagedUploadTtlSeconds,
    close() {
      s3Client.destroy();
      dynamoClient.destroy();
      if (presignClient !== s3Client) presignClient.destroy();
    },
  };
}

/** The deployed API function's dependencies. */
export function createDeployedApiDeps(config: EdgeResizerConfig): ApiWiring {
  return createApiWiring(config, deployedAccess());
}

function createCloudFrontInvalidation(config: EdgeResizerConfig, access: AwsAccess, readParameter: SsmReader) {
  const distributionId = createParameterReader(readParameter, distributionIdParameterName(config.stage));
  // CloudFront's API lives in us-east-1 whatever the stack's region.
  const cloudfront = new CloudFrontClient({
    region: 'us-east-1',
    maxAttempts: config.storage.maxAttempts,
    credentials: access.credentials as ClientOptions['credentials'],
  });
  return async (key: string): Promise<void> => {
    await cloudfront.send(
      new CreateInvalidationCommand({
        DistributionId: await distributionId(),
        InvalidationBatch: { CallerReference: randomUUID(), Paths: { Quantity: 1, Items: [`/${key}*`] } },
      }),
    );
  };
}
