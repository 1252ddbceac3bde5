/**
 * `GET /api/settings`: the stage settings a client needs to build image URLs:
 * the presets and their policy, the default gravity, whether
 * `format=auto` may answer AVIF, the largest dimension and the default
 * quality. Read-only, behind the API token like every `/api/*` call; the
 * playground uses it for its preset picker.
 */
import type { EdgeResizerConfig, StageSettings } from '../core/config.js';
import { HttpError } from '../core/errors.js';
import type { Reply } from './reply.js';

export const SETTINGS_PATH = '/api/settings';

export function stageSettings(config: EdgeResizerConfig): StageSettings {
  return {
    presets: { ...config.presets },
    presetPolicy: config.presetPolicy,
    defaultGravity: config.defaultGravity,
    autoAvif: config.autoAvif,
    maxDimension: config.limits.maxDimension,
    defaultQuality: config.defaultQuality,
  };
}

export function serveSettings(config: EdgeResizerConfig, method: string, reply: Reply): Promise<void> {
  if (method !== 'GET') {
    throw new HttpError('method_not_allowed', `Expected GET but received ${method}`, { headers: { Allow: 'GET' } });
  }
  return reply.json(200, stageSettings(config));
}
