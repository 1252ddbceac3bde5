/**
 * Master key providers (CONTRACT.md §6): a key file locally, an SSM
 * SecureString when deployed. The key is read once per container and cached;
 * a failed read is not cached, so the next request tries again.
 */

import { readFile } from 'node:fs/promises';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { cached } from '../core/cached.js';
import type { MasterKeySource } from '../core/config.js';
import { parseMasterKey } from '../core/envelope.js';
import { HttpError } from '../core/errors.js';

export type MasterKeyProvider = () => Promise<Buffer>;

export function createMasterKeyProvider(source: MasterKeySource, ssm?: () => SSMClient): MasterKeyProvider {
  return cached(() =>
    load(source, ssm).catch((error: unknown) => {
      throw new HttpError('storage_error', 'The master key is unavailable', { cause: error });
    }),
  );
}

/**
 * An SSM parameter's value (a SecureString decrypted), read once per container
 * and cached like the master key. Empty is a failure.
 */
export function createParameterReader(ssm: () => SSMClient, name: string): () => Promise<string> {
  return cached(async () => {
    try {
      const response = await ssm().send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      const value = response.Parameter?.Value?.trim();
      if (!value) throw new Error(`SSM parameter ${name} is empty`);
      return value;
    } catch (error) {
      throw new HttpError('storage_error', 'A configuration secret is unavailable', { cause: error });
    }
  });
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
