/**
 * `serve --config FILE` / `EDGE_RESIZER_CONFIG`: a JSON file of stage settings,
 * the same fields as a stage block of `serverless.yml`, checked by the one
 * schema (src/core/config-schema.ts). Any problem is bad usage: exit 2, one line.
 */
import { readFile } from 'node:fs/promises';
import { createConfig } from '../core/config.js';
import { parseStageSettings, type StageSettings } from '../core/config-schema.js';
import { canonicalParams, parseImageParams } from '../core/params.js';
import { CliError, EXIT } from './common.js';

export async function loadStageConfig(file: string): Promise<StageSettings> {
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
    return parseStageSettings(json, {
      // A preset must be a URL this stage answers: its own widths, width policy and limits apply,
      // and the canonical form (where the width allow-list is applied) must accept it too.
      checkPreset: (query, _name, stage) => {
        const config = createConfig(stage);
        canonicalParams(parseImageParams(query, config), config);
      },
    });
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`, EXIT.usage);
  }
}
