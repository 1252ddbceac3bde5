/**
 * Bench child: the storage servers the local CDN talks to — s3rver and
 * dynalite, the same embedded servers `npm start` runs — in a process of their
 * own, so the CDN's process (bench/cdn-child.ts) carries only the product's
 * work: its CPU time and its event loop are the product's, as deployed, where
 * S3 and DynamoDB are somebody else's machines.
 */
import { join } from 'node:path';
import { createConfig } from '../src/core/config.js';
import { type EmbeddedServer, startDynalite, startS3rver } from '../src/local/embedded-servers.js';
import { serveChild } from './lib/child.js';

export interface StorageInfo {
  s3Endpoint: string;
  dynamoEndpoint: string;
  pid: number;
}

const embedded: EmbeddedServer[] = [];
let cpu: NodeJS.CpuUsage | undefined;

serveChild({
  async start(args: { dataDir: string }): Promise<StorageInfo> {
    const config = createConfig();
    const s3 = await startS3rver({
      directory: join(args.dataDir, 's3'),
      // The staging bucket too: the distance row's staged upload goes through it.
      buckets: [config.originalsBucket, config.derivativesBucket, config.stagingBucket],
    });
    embedded.push(s3);
    const dynamo = await startDynalite({ directory: join(args.dataDir, 'dynamodb') });
    embedded.push(dynamo);
    return { s3Endpoint: s3.endpoint, dynamoEndpoint: dynamo.endpoint, pid: process.pid };
  },
  /** CPU ms this process used since the last call (what S3 and DynamoDB cost the machine meanwhile). */
  cpuSince() {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    return (used.user + used.system) / 1000;
  },
  async close() {
    for (const server of embedded.reverse()) await server.close();
  },
});
