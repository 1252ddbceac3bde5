/** `edge-resizer sign <url>`: the URL with `exp` and `sig` (CONTRACT.md §5). */
import { HttpError } from '../core/errors.js';
import { parseExpiry, signUrl } from '../core/signing.js';
import { CliError, EXIT, env } from './common.js';

export function sign(url: string, options: { expires: string; secret?: string }): void {
  const secret = options.secret ?? env('SIGNING_SECRET');
  if (!secret) throw new CliError('No signing secret: set SIGNING_SECRET or pass --secret');
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
  try {
    process.stdout.write(`${signUrl(url, secret, String(expiry), now)}\n`);
  } catch (error) {
    if (error instanceof HttpError) throw new CliError(error.message, EXIT.usage);
    throw new CliError(`Cannot sign '${url}': it is not a URL or a path`, EXIT.usage);
  }
}
