/** `edge-resizer keygen`: a new 256-bit master key, as 64 hex characters. */
import { writeFile } from 'node:fs/promises';
import { generateMasterKeyHex } from '../core/envelope.js';
import { CliError } from './common.js';

export async function keygen(options: { out?: string; force?: boolean }): Promise<void> {
  const key = `${generateMasterKeyHex()}\n`;
  if (!options.out) {
    process.stdout.write(key);
    return;
  }
  try {
    await writeFile(options.out, key, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CliError(`${options.out} exists; a key file is never overwritten without --force`);
    }
    throw error;
  }
  process.stderr.write(`Wrote a new master key to ${options.out} (mode 0600)\n`);
}
