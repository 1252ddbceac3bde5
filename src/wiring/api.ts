/**
 * The composition root of the deployed API function: S3, DynamoDB (the table
 * CloudFormation made; the API role may not create one), SSM (master key, API
 * token, distribution id) and CloudFront (invalidations), all with the
 * credentials Lambda puts in the environment.
 */
import { randomUUID } from 'node:crypto';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { ApiDeps } from '../api/app.js';
import { createOriginCheck } from '../api/auth.js';
import type { EdgeResizerConfig } from '../core/config.js';
import { createDynamoClient, createS3Client, createSsmReader } from '../storage/clients.js';
import { createMasterKeyProvider, createParameterReader } from '../storage/master-key.js';
import { createMetadataStore } from '../storage/metadata-store.js';
import { createS3Store } from '../storage/s3-store.js';

/** SSM SecureString holding the deployed API token (create it once per stage; the API role reads it). */
export const apiTokenParameterName = (stage: string) => `/edge-resizer/${stage}/api-token`;
/** SSM String the stack writes with the distribution id, for invalidations (serverless.yml `distributionIdParameter`). */
export const distributionIdParameterName = (stage: string) => `/edge-resizer/${stage}/distribution-id`;

/** SSM String the stack writes with CloudFront's origin-verify header value (serverless.yml `originVerifyParameter`). */
export const originVerifyParameterName = (stage: string) => `/edge-resizer/${stage}/origin-verify`;

export function createDeployedApiDeps(config: EdgeResizerConfig): ApiDeps {
  const credentials = fromEnv();
  const clientOptions = { region: config.region, ...config.storage, credentials };
  const readParameter = createSsmReader(clientOptions);
  const distributionId = createParameterReader(readParameter, distributionIdParameterName(config.stage));
  const cloudfront = new CloudFrontClient({
    region: 'us-east-1',
    maxAttempts: config.storage.maxAttempts,
    credentials,
  });

  return {
    config,
    store: createS3Store({
      client: createS3Client(clientOptions),
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
    }),
    metadata: createMetadataStore({
      client: createDynamoClient(clientOptions),
      table: config.metadataTable,
      createIfMissing: false,
    }),
    masterKey: createMasterKeyProvider(config.masterKey, readParameter),
    apiToken: createParameterReader(readParameter, apiTokenParameterName(config.stage)),
    checkOrigin: createOriginCheck(() => readParameter(originVerifyParameterName(config.stage))),
    async invalidate(key) {
      await cloudfront.send(
        new CreateInvalidationCommand({
          DistributionId: await distributionId(),
          InvalidationBatch: { CallerReference: randomUUID(), Paths: { Quantity: 1, Items: [`/${key}*`] } },
        }),
      );
    },
  };
}
