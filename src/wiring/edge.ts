/**
 * The composition of the origin-response function, deployed and local alike:
 * one S3 client (GetObject, HeadObject, PutObject, DeleteObject through
 * `createEdgeStore`) and one SSM read for the master key (a signed request, no
 * SDK client). Only `access` (wiring/access.ts) differs: deployed, credentials
 * from the environment Lambda sets (`fromEnv`, never the SDK's whole default
 * chain) and AWS's endpoints; locally, s3rver.
 */
import type { EdgeResizerConfig } from '../core/config.js';
import { createS3Client, createSsmReader } from '../storage/clients.js';
import { createMasterKeyProvider, type MasterKeyProvider } from '../storage/master-key.js';
import { createEdgeStore, type EdgeStore } from '../storage/s3-store.js';
import { type AwsAccess, clientOptions, deployedAccess, storeOptions } from './access.js';

export interface EdgeWiring {
  config: EdgeResizerConfig;
  store: EdgeStore;
  masterKey: MasterKeyProvider;
  /** Destroys the client (its kept-alive sockets); a Lambda container never calls it. */
  close(): void;
}

export function createEdgeWiring(config: EdgeResizerConfig, access: AwsAccess = deployedAccess()): EdgeWiring {
  const client = createS3Client(clientOptions(config, access, access.s3Endpoint));
  const store = createEdgeStore(storeOptions(config, access, client));
  const readParameter = createSsmReader({ region: config.region, ...config.storage, credentials: access.credentials });
  const masterKey = createMasterKeyProvider(config.masterKey, readParameter);
  return { config, store, masterKey, close: () => client.destroy() };
}
