/**
 * `serve --config FILE` / `EDGE_RESIZER_CONFIG`: a JSON file of stage settings,
 * the same fields as a stage block of `serverless.yml`, checked by the one
 * schema (src/core/config-schema.ts). Any problem is bad usage: exit 2, one line.
 */
import { readFile } from 'node:fs/promises';
import { parseStageConfig, type StageConfig } from '../core/config-schema.js';
import { CliError, EXIT } from './common.js';

export async function loadStageConfig(file: string): Promise<StageConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`Cannot read the config file ${file}${code ? ` (${code})` : ''}`, EXIT.usage);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
  try {
    return parseStageConfig(json);
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`, EXIT.usage);
  }
}
