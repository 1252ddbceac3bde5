/**
 * The composition root of the local CDN (`edge-resizer serve`) and of the
 * tests that stand in for it: clients for the embedded s3rver and dynalite
 * (static dummy credentials, path-style), the stores, the master key file.
 *
 * s3rver differs from S3 in two ways that the wiring, and only the wiring,
 * papers over: each key segment is a file name of at most 255 bytes
 * (`S3RVER_KEY_CODEC` splits long segments, see key-codec.ts), and its
 * listing continuation tokens need OpenSSL's legacy DES cipher (listings page
 * with `start-after` instead, so no Node flag is needed).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { EdgeResizerConfig } from '../core/config.js';
import { type ClientOptions, createDynamoClient, createS3Client, LOCAL_CREDENTIALS } from '../storage/clients.js';
import { S3RVER_KEY_CODEC } from '../storage/key-codec.js';
import { createMasterKeyProvider, type MasterKeyProvider } from '../storage/master-key.js';
import { createMetadataStore, type MetadataStore } from '../storage/metadata-store.js';
import { createS3Store, type S3Store } from '../storage/s3-store.js';
import { createStagingStore, type StagingStore } from '../storage/staging-store.js';

export interface LocalWiringOptions {
  config: EdgeResizerConfig;
  /** The embedded s3rver, or any S3-compatible server speaking to it (a fault proxy in tests). */
  s3Endpoint: string;
  dynamoEndpoint: string;
}

export interface LocalWiring {
  s3Client: S3Client;
  dynamoClient: DynamoDBClient;
  store: S3Store;
  metadata: MetadataStore;
  masterKey: MasterKeyProvider;
  /** How the derivatives bucket spells a key, for the local CloudFront's plain-HTTP S3 origin. */
  storageKey(key: string): string;
  /** Destroys the clients (their kept-alive sockets). */
  close(): void;
}

export function createLocalWiring({ config, s3Endpoint, dynamoEndpoint }: LocalWiringOptions): LocalWiring {
  const s3Client = createLocalS3Client(config, s3Endpoint);
  const dynamoClient = createDynamoClient({
    region: config.region,
    credentials: LOCAL_CREDENTIALS,
    ...config.storage,
    endpoint: dynamoEndpoint,
  });
  return {
    s3Client,
    dynamoClient,
    store: createLocalS3Store(config, s3Client),
    metadata: createMetadataStore({ client: dynamoClient, table: config.metadataTable }),
    masterKey: createMasterKeyProvider(config.masterKey),
    storageKey: (key) => S3RVER_KEY_CODEC.encode(key),
    close() {
      s3Client.destroy();
      dynamoClient.destroy();
    },
  };
}

/** An S3 client for s3rver at `endpoint`. */
export function createLocalS3Client(config: EdgeResizerConfig, endpoint: string): S3Client {
  return createS3Client({ region: config.region, credentials: LOCAL_CREDENTIALS, ...config.storage, endpoint });
}

/** The store as the local CDN wires it over s3rver. */
export function createLocalS3Store(config: EdgeResizerConfig, client: S3Client): S3Store {
  return createS3Store({
    client,
    originalsBucket: config.originalsBucket,
    derivativesBucket: config.derivativesBucket,
    keyCodec: S3RVER_KEY_CODEC,
    pagination: 'start-after',
  });
}

/**
 * The staging bucket of large uploads over s3rver (CONTRACT.md §7): the server
 * talks to s3rver through `client`; part URLs are signed for `publicEndpoint`,
 * where the browser or CLI reaches S3 (the local CDN's `/_local/s3` door),
 * with `presignCredentials`, the door's own (s3-part-proxy.ts).
 */
export function createLocalStagingStore(
  config: EdgeResizerConfig,
  client: S3Client,
  publicEndpoint: string,
  presignCredentials: ClientOptions['credentials'] = LOCAL_CREDENTIALS,
): StagingStore {
  return createStagingStore({
    client,
    bucket: config.stagingBucket,
    presignClient: createS3Client({
      region: config.region,
      ...config.storage,
      credentials: presignCredentials,
      endpoint: publicEndpoint,
    }),
  });
}
