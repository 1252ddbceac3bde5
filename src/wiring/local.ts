/**
 * How the local CDN (`edge-resizer serve`) and the tests that stand in for it
 * reach storage: the embedded s3rver and dynalite (or any compatible server),
 * static dummy credentials. It builds its handlers with the same composition
 * functions as the deployed ones (`createEdgeWiring`, `createApiWiring`); this
 * access is all that differs.
 *
 * s3rver differs from S3 in two ways that the wiring, and only the wiring,
 * papers over (`s3Dialect: 's3rver'`): each key segment is a file name of at
 * most 255 bytes (`S3RVER_KEY_CODEC` splits long segments, see key-codec.ts),
 * and its continuation tokens are DES-encrypted. Listings page with
 * `start-after`, so no token is ever sent back to be deciphered; s3rver still
 * encrypts one into every truncated page, so the process that embeds it needs
 * OpenSSL's legacy provider (`bin/edge-resizer.mjs` re-runs itself with
 * `--openssl-legacy-provider` where DES is off; the test runner passes it).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { EdgeResizerConfig } from '../core/config.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../storage/clients.js';
import { S3RVER_KEY_CODEC } from '../storage/key-codec.js';
import { createS3Store, type S3Store } from '../storage/s3-store.js';
import { type AwsAccess, clientOptions, storeOptions } from './access.js';

export interface LocalAccessOptions {
  /** The embedded s3rver, or any S3-compatible server speaking to it (a fault proxy in tests). */
  s3Endpoint: string;
  dynamoEndpoint: string;
}

const S3RVER: AwsAccess = { credentials: LOCAL_CREDENTIALS, s3Dialect: 's3rver' };

export function localAccess({ s3Endpoint, dynamoEndpoint }: LocalAccessOptions): AwsAccess {
  return { ...S3RVER, s3Endpoint, dynamoEndpoint };
}

/** How s3rver spells a key, for the local CloudFront's plain-HTTP S3 origin. */
export const localStorageKey = (key: string): string => S3RVER_KEY_CODEC.encode(key);

/** An S3 client for s3rver at `endpoint`. */
export function createLocalS3Client(config: EdgeResizerConfig, endpoint: string): S3Client {
  return createS3Client(clientOptions(config, S3RVER, endpoint));
}

/** The store as the local CDN wires it over s3rver. */
export function createLocalS3Store(config: EdgeResizerConfig, client: S3Client): S3Store {
  return createS3Store(storeOptions(config, S3RVER, client));
}
