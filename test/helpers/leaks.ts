import { expect } from 'chai';
import type { LocalServer } from '../../src/local/server.js';

/** No stack frames, no path on disk, no bucket or table names, no AWS error text. */
export function assertNoLeak(text: string, server: LocalServer, dataDir: string) {
  expect(text).to.not.match(/\n\s+at |node_modules|\.ts:\d+/);
  expect(text).to.not.include(dataDir);
  expect(text).to.not.include(process.cwd());
  for (const name of [server.config.originalsBucket, server.config.derivativesBucket, server.config.metadataTable]) {
    expect(text).to.not.include(name);
  }
  expect(text).to.not.match(/NoSuchKey|AccessDenied|ResourceNotFoundException|ECONNREFUSED|\$metadata/);
}
