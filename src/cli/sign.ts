/** `edge-resizer sign <url>`: the URL with `exp` and `sig` (CONTRACT.md §5). */
import { HttpError } from '../core/errors.js';
import { signUrl } from '../core/signing.js';
import { CliError, env } from './common.js';

export function sign(url: string, options: { expires: string; secret?: string }): void {
  const secret = options.secret ?? env('SIGNING_SECRET');
  if (!secret) throw new CliError('No signing secret: set SIGNING_SECRET or pass --secret');
  try {
    process.stdout.write(`${signUrl(url, secret, options.expires)}\n`);
  } catch (error) {
    if (error instanceof HttpError) throw new CliError(error.message, 2);
    throw new CliError(`Cannot sign '${url}': it is not a URL or a path`, 2);
  }
}
