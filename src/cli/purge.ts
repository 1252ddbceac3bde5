/**
 * `edge-resizer purge <key>`: deletes every derivative of `key` through the API,
 * which also invalidates `/<key>*` in CloudFront when deployed (and in the
 * local CDN's cache locally).
 */
import { CliError, defaultEndpoint, describeFailure, resolveToken } from './common.js';

export async function purge(
  key: string,
  options: { endpoint?: string; token?: string; dataDir: string },
): Promise<void> {
  const endpoint = (options.endpoint ?? defaultEndpoint()).replace(/\/+$/, '');
  const token = await resolveToken(options.token, options.dataDir);
  const path = key.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
  const response = await fetch(`${endpoint}/api/derivatives/${path}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  }).catch((error: Error) => {
    throw new CliError(
      `Cannot reach ${endpoint}: ${error.cause instanceof Error ? error.cause.message : error.message}`,
    );
  });
  if (!response.ok) throw new CliError(`Purging ${key} failed: ${await describeFailure(response)}`);
  const result = (await response.json()) as { deleted: number };
  process.stdout.write(`${JSON.stringify({ key, deleted: result.deleted })}\n`);
}
