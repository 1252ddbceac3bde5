/** What every command shares: exit codes, failure output, endpoint and token lookup. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** CONTRACT.md §2: 0 success, 1 failure, 2 bad usage. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A failure the user can act on: printed as one line, no stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const env = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
};

export const DEFAULT_DATA_DIR = '.data';

/** `http://HOST:PORT` of the local CDN unless told otherwise. */
export function defaultEndpoint(): string {
  return `http://${env('HOST') ?? '127.0.0.1'}:${env('PORT') ?? '3000'}`;
}

/** `--token`, else `API_TOKEN`, else the local data dir's `api-token`. */
export async function resolveToken(token: string | undefined, dataDir: string): Promise<string> {
  const given = token ?? env('API_TOKEN');
  if (given) return given;
  try {
    return (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
  } catch {
    throw new CliError(
      `No API token: pass --token, set API_TOKEN, or start the local CDN once so ${join(dataDir, 'api-token')} exists`,
    );
  }
}

/** Reads the contract's JSON error from a response, or describes the response. */
export async function describeFailure(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    if (body.code) return `${response.status} ${body.code}: ${body.message ?? ''}`.trim();
  } catch {
    // not JSON: fall through
  }
  return `${response.status} ${response.statusText}`;
}

/** Runs `work` on `items` with at most `concurrency` at once. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(workers);
}
