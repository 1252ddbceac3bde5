/** A real dynalite on a free loopback port, with its data in a temp dir, for one test file. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { type EmbeddedServer, startDynalite } from '../../src/local/embedded-servers.js';
import { createDynamoClient, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createMetadataStore, type MetadataStore } from '../../src/storage/metadata-store.js';

export interface TestDynamo {
  server: EmbeddedServer;
  client: DynamoDBClient;
  metadata: MetadataStore;
  table: string;
  close(): Promise<void>;
}

export async function startTestDynamo(table = DEFAULT_CONFIG.metadataTable): Promise<TestDynamo> {
  const directory = await mkdtemp(join(tmpdir(), 'edge-resizer-dynamo-'));
  const server = await startDynalite({ directory });
  const client = createDynamoClient({
    region: DEFAULT_CONFIG.region,
    endpoint: server.endpoint,
    credentials: LOCAL_CREDENTIALS,
    ...DEFAULT_CONFIG.storage,
  });
  const metadata = createMetadataStore({ client, table });
  await metadata.ensureTable();
  return {
    server,
    client,
    metadata,
    table,
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
