/** `edge-resizer sign <url>`: the URL with `exp` and `sig` (and `kid`). */
import { HttpError } from '../core/errors.js';
import { parseExpiry, signUrl } from '../core/signing.js';
import { CliError, DEFAULT_DATA_DIR, EXIT, env } from './common.js';
import { activeSigningSecret } from './keys.js';

export interface SignOptions {
  expires: string;
  secret?: string;
  /** A key of `keys add`; `default` is SIGNING_SECRET. */
  kid?: string;
  dataDir?: string;
}

/** `--secret`, else for a `kid` other than `default` the data dir's key, else SIGNING_SECRET. */
async function resolveSecret(options: SignOptions): Promise<string> {
  if (options.secret) return options.secret;
  if (options.kid !== undefined && options.kid !== 'default') {
    const secret = await activeSigningSecret(options.dataDir ?? DEFAULT_DATA_DIR, options.kid);
    if (!secret)
      throw new CliError(`No signing key ${options.kid}: add it with \`edge-resizer keys add --kid ${options.kid}\``);
    return secret;
  }
  // As the viewer function reads it: the file's `default` where there is one, else SIGNING_SECRET.
  const secret = (await activeSigningSecret(options.dataDir ?? DEFAULT_DATA_DIR, 'default')) ?? env('SIGNING_SECRET');
  if (!secret) throw new CliError('No signing secret: set SIGNING_SECRET or pass --secret');
  return secret;
}

export async function sign(url: string, options: SignOptions): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  let expiry: number;
  try {
    expiry = parseExpiry(options.expires, now);
  } catch (error) {
    if (error instanceof HttpError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
  // A URL that is dead on arrival is a mistake (a unix time in the past, `0s`), never what was meant.
  if (expiry <= now) {
    const when = new Date(expiry * 1000).toISOString();
    throw new CliError(`--expires ${options.expires} is not in the future (${when}): nothing signed`, EXIT.usage);
  }
  const secret = await resolveSecret(options);
  try {
    process.stdout.write(`${signUrl(url, secret, String(expiry), now, options.kid)}\n`);
  } catch (error) {
    if (error instanceof HttpError) throw new CliError(error.message, EXIT.usage);
    throw new CliError(`Cannot sign '${url}': it is not a URL or a path`, EXIT.usage);
  }
}
