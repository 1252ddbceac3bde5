/**
 * First start: upload `fixtures/photos` under `samples/` through the real API,
 * so the samples have metadata and placeholders like any upload. A marker file
 * in the data dir makes later starts skip it.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/log.js';

export const SAMPLES_DIR = fileURLToPath(new URL('../../fixtures/photos/', import.meta.url));
const MARKER = '.samples-uploaded';

export async function seedSamples(options: {
  url: string;
  apiToken: string;
  dataDir: string;
  logger: Logger;
}): Promise<string[]> {
  const marker = join(options.dataDir, MARKER);
  if (
    await readFile(marker).then(
      () => true,
      () => false,
    )
  )
    return [];
  const files = (await readdir(SAMPLES_DIR)).filter((name) => /\.(jpe?g|png|webp|avif|gif|tiff?)$/i.test(name)).sort();
  const keys: string[] = [];
  for (const name of files) {
    const key = `samples/${name}`;
    const response = await fetch(`${options.url}/api/images/${key}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${options.apiToken}`, 'x-meta-source': 'fixtures/photos' },
      body: await readFile(join(SAMPLES_DIR, name)),
    });
    if (!response.ok) throw new Error(`Uploading sample ${name} failed: ${response.status} ${await response.text()}`);
    keys.push(key);
  }
  await writeFile(marker, `${new Date().toISOString()}\n${keys.join('\n')}\n`);
  options.logger.info('samples uploaded', { count: keys.length });
  return keys;
}
