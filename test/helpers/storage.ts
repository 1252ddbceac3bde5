/** A real s3rver on a free loopback port, with both buckets, for one test file. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createConfig, type EdgeResizerConfig, type EdgeResizerConfigInput } from '../../src/core/config.js';
import { generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import { type EmbeddedServer, startS3rver } from '../../src/local/embedded-servers.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createS3Store, type S3Store } from '../../src/storage/s3-store.js';

export interface TestStorage {
  config: EdgeResizerConfig;
  server: EmbeddedServer;
  client: S3Client;
  store: S3Store;
  masterKey: Buffer;
  directory: string;
  close(): Promise<void>;
}

export async function startTestStorage(input: EdgeResizerConfigInput = {}): Promise<TestStorage> {
  const directory = await mkdtemp(join(tmpdir(), 'edge-resizer-test-'));
  const keyHex = generateMasterKeyHex();
  const config = createConfig({ ...input, masterKey: { type: 'inline', keyHex } });
  const server = await startS3rver({
    directory: join(directory, 's3'),
    buckets: [config.originalsBucket, config.derivativesBucket],
  });
  const client = createS3Client({
    region: config.region,
    endpoint: server.endpoint,
    credentials: LOCAL_CREDENTIALS,
    ...config.storage,
  });
  const store = createS3Store({
    client,
    originalsBucket: config.originalsBucket,
    derivativesBucket: config.derivativesBucket,
  });
  return {
    config,
    server,
    client,
    store,
    masterKey: parseMasterKey(keyHex),
    directory,
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
