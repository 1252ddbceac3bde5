/** What every command shares: exit codes, failure output, endpoint and token lookup. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ApiError, errorFromResponse, PartUploadError } from '../client-api/api-client.js';

/** Every command: 0 success, 1 failure, 2 bad usage. */
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

/** The CLI's form of an API error: `413 too_large: The image is larger than …`, or what went wrong on the way. */
export function describeApiError(error: ApiError): string {
  const answered = error.status !== 0 && !(error instanceof PartUploadError);
  return answered ? `${error.status} ${error.code}: ${error.message}` : error.message;
}

/** A failed response in the CLI's form, its JSON error read by the API client's one parser. */
export async function describeFailure(response: Response): Promise<string> {
  return describeApiError(await errorFromResponse(response));
}

/** Runs `work` on `items` with at most `concurrency` at once. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(workers);
}
