/**
 * Master key providers (CONTRACT.md §6): a key file locally, an SSM
 * SecureString when deployed. The key is read once per container and cached;
 * a failed read is not cached, so the next request tries again.
 */

import { readFile } from 'node:fs/promises';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { MasterKeySource } from '../core/config.js';
import { parseMasterKey } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';

export type MasterKeyProvider = () => Promise<Buffer>;

export function createMasterKeyProvider(source: MasterKeySource, ssm?: () => SSMClient): MasterKeyProvider {
  let cached: Promise<Buffer> | undefined;
  return () => {
    cached ??= load(source, ssm).catch((error: unknown) => {
      cached = undefined;
      throw new HttpError('storage_error', 'The master key is unavailable', { cause: error });
    });
    return cached;
  };
}

async function load(source: MasterKeySource, ssm?: () => SSMClient): Promise<Buffer> {
  switch (source.type) {
    case 'inline':
      return parseMasterKey(source.keyHex);
    case 'file':
      return parseMasterKey(await readFile(source.path));
    case 'ssm': {
      if (!ssm) throw new Error('An SSM client is needed for an SSM master key');
      const response = await ssm().send(new GetParameterCommand({ Name: source.parameterName, WithDecryption: true }));
      return parseMasterKey(response.Parameter?.Value ?? '');
    }
  }
}
