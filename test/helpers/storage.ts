/** A real s3rver on a free loopback port, with both buckets, for one test file. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createConfig, type EdgeResizerConfig, type EdgeResizerConfigInput } from '../../src/core/config.js';
import { generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import { type EmbeddedServer, startS3rver } from '../../src/local/embedded-servers.js';
import type { S3Store } from '../../src/storage/s3-store.js';
import { createLocalS3Client, createLocalS3Store } from '../../src/wiring/local.js';

export interface TestStorage {
  config: EdgeResizerConfig;
  server: EmbeddedServer;
  client: S3Client;
  /** Wired as the local CDN wires it (s3rver's key codec, start-after paging). */
  store: S3Store;
  masterKey: Buffer;
  directory: string;
  /** A store (and its client) talking to `endpoint` instead, e.g. a fault proxy in front of this s3rver. */
  storeAt(endpoint: string): S3Store;
  close(): Promise<void>;
}

export async function startTestStorage(input: EdgeResizerConfigInput = {}): Promise<TestStorage> {
  const directory = await mkdtemp(join(tmpdir(), 'edge-resizer-test-'));
  const keyHex = generateMasterKeyHex();
  const config = createConfig({ ...input, masterKey: { type: 'inline', keyHex } });
  const server = await startS3rver({
    directory: join(directory, 's3'),
    buckets: [config.originalsBucket, config.derivativesBucket, config.stagingBucket],
  });
  const clients: S3Client[] = [];
  const storeAt = (endpoint: string) => {
    const client = createLocalS3Client(config, endpoint);
    clients.push(client);
    return createLocalS3Store(config, client);
  };
  const store = storeAt(server.endpoint);
  const client = store.context.client;
  return {
    config,
    server,
    client,
    store,
    masterKey: parseMasterKey(keyHex),
    directory,
    storeAt,
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
