/**
 * The deployed API function (serverless.yml `api`, function URL in
 * `RESPONSE_STREAM` mode): the configuration baked in at build time, clients
 * made once per container on the first request. Outside Lambda the streaming
 * shim supplies the `awslambda` global, so this module also loads in tests and
 * in the local CDN, which build their own handler with `createApiHandler`.
 */

import { randomUUID } from 'node:crypto';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { EdgeResizerConfig } from '../core/config.js';
import { HttpError } from '../core/errors.js';
import { bakedConfig } from '../edge/baked-config.js';
import { installStreamingShim } from '../local/streaming-shim.js';
import { createDynamoClient, createS3Client, createSsmClient } from '../storage/clients.js';
import { createMasterKeyProvider } from '../storage/master-key.js';
import { createMetadataStore } from '../storage/metadata-store.js';
import { createS3Store } from '../storage/s3-store.js';
import { createApiHandler } from './app.js';
import type { StreamingHandler } from './lambda-stream.js';

export { type ApiDeps, createApiHandler } from './app.js';

/** SSM SecureString holding the deployed API token (create it once per stage; the API role reads it). */
export const apiTokenParameterName = (stage: string) => `/edge-resizer/${stage}/api-token`;
/** SSM String the stack writes with the distribution id, for invalidations (serverless.yml `distributionIdParameter`). */
export const distributionIdParameterName = (stage: string) => `/edge-resizer/${stage}/distribution-id`;

installStreamingShim();

let deployed: StreamingHandler | undefined;

/** The Lambda entry point. */
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  deployed ??= createDeployedApiHandler(bakedConfig());
  await deployed(event, responseStream, context);
});

function createDeployedApiHandler(config: EdgeResizerConfig): StreamingHandler {
  const clientOptions = { region: config.region, ...config.storage };
  let ssm: SSMClient | undefined;
  const ssmClient = () => (ssm ??= createSsmClient(clientOptions));
  const parameter = cachedParameter(ssmClient);
  const distributionId = parameter(distributionIdParameterName(config.stage));
  const cloudfront = new CloudFrontClient({ region: 'us-east-1', maxAttempts: config.storage.maxAttempts });

  return createApiHandler({
    config,
    store: createS3Store({
      client: createS3Client(clientOptions),
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
    }),
    // CloudFormation owns the table; the API role may not create one.
    metadata: createMetadataStore({
      client: createDynamoClient(clientOptions),
      table: config.metadataTable,
      createIfMissing: false,
    }),
    masterKey: createMasterKeyProvider(config.masterKey, ssmClient),
    apiToken: parameter(apiTokenParameterName(config.stage)),
    async invalidate(key) {
      await cloudfront.send(
        new CreateInvalidationCommand({
          DistributionId: await distributionId(),
          InvalidationBatch: { CallerReference: randomUUID(), Paths: { Quantity: 1, Items: [`/${key}*`] } },
        }),
      );
    },
  });
}

/** An SSM parameter read once per container; a failed read is not cached, so the next request retries. */
function cachedParameter(ssm: () => SSMClient) {
  return (name: string) => {
    let cached: Promise<string> | undefined;
    return () => {
      cached ??= ssm()
        .send(new GetParameterCommand({ Name: name, WithDecryption: true }))
        .then((response) => {
          const value = response.Parameter?.Value?.trim();
          if (!value) throw new Error(`SSM parameter ${name} is empty`);
          return value;
        })
        .catch((error: unknown) => {
          cached = undefined;
          throw new HttpError('storage_error', 'A configuration secret is unavailable', { cause: error });
        });
      return cached;
    };
  };
}
