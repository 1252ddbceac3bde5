/**
 * The local CDN as the profiling scripts run it (bench/profile.ts, bench/profile-hit.ts): in this
 * process, so the inspector samples its main thread, with its s3rver and dynalite in a child process
 * (bench/storage-child.ts) so that their work is not profiled as ours.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import type { StorageInfo } from '../storage-child.js';
import { type Child, forkChild } from './child.js';

/** The V8 CPU profile the inspector returns (`Profiler.stop`), the parts the scripts read. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfiledServer {
  server: LocalServer;
  storage: Child;
  /** Stops the server and the storage child, and deletes their data. */
  close(): Promise<void>;
}

export async function startProfiledServer(name: string): Promise<ProfiledServer> {
  const dataDir = await mkdtemp(join(tmpdir(), `edge-resizer-${name}-`));
  const storage = forkChild(new URL('../storage-child.ts', import.meta.url));
  const endpoints = await storage.call<StorageInfo>('start', { dataDir: join(dataDir, 'storage') });
  const server = await startLocalServer({
    dataDir,
    port: 0,
    logLevel: 'silent',
    seedSamples: false,
    s3Endpoint: endpoints.s3Endpoint,
    dynamoEndpoint: endpoints.dynamoEndpoint,
  });
  return {
    server,
    storage,
    async close() {
      await server.close();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
