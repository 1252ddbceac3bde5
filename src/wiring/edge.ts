/**
 * The composition root of the Lambda@Edge origin-response function: one S3
 * client (GetObject, HeadObject, PutObject through `createEdgeStore`), one SSM
 * read for the master key (a signed request, no SDK client), credentials from
 * the environment Lambda sets (`fromEnv`), never the SDK's whole default chain.
 * An endpoint override for tests comes from the SDK's own `AWS_ENDPOINT_URL_S3`
 * and the same `AWS_ENDPOINT_URL_SSM` the SDK would read.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { EdgeResizerConfig } from '../core/config.js';
import { createS3Client, createSsmReader } from '../storage/clients.js';
import { createMasterKeyProvider, type MasterKeyProvider } from '../storage/master-key.js';
import { createEdgeStore, type EdgeStore } from '../storage/s3-store.js';

export interface EdgeWiring {
  config: EdgeResizerConfig;
  store: EdgeStore;
  masterKey: MasterKeyProvider;
}

export function createEdgeWiring(config: EdgeResizerConfig): EdgeWiring {
  const clientOptions = { region: config.region, ...config.storage, credentials: fromEnv() };
  const store = createEdgeStore({
    client: createS3Client(clientOptions),
    originalsBucket: config.originalsBucket,
    derivativesBucket: config.derivativesBucket,
  });
  const masterKey = createMasterKeyProvider(config.masterKey, createSsmReader(clientOptions));
  return { config, store, masterKey };
}
