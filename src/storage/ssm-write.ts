/**
 * SSM `PutParameter` (a SecureString, overwritten) as one signed request,
 * beside the one signed `GetParameter` of ssm-parameter.ts and in the same
 * shape (AWS JSON 1.1, Signature V4, `AWS_ENDPOINT_URL_SSM` honoured): what
 * `rotate-master-key --stage` writes the keyring with. The CLI only; no
 * retries (a failed write is reported and the rotation is run again).
 */
import { type SsmCredentials, SsmError, signSsmRequest, ssmEndpoint } from './ssm-parameter.js';

export interface SsmWriteOptions {
  region: string;
  endpoint?: string;
  credentials: SsmCredentials | (() => Promise<SsmCredentials>);
  timeoutMs: number;
}

/** Writes `value` as the SecureString `name`, replacing what is there. The value never appears in an error. */
export async function putSsmParameter(options: SsmWriteOptions, name: string, value: string): Promise<void> {
  const url = new URL(options.endpoint ?? ssmEndpoint(options.region));
  const body = JSON.stringify({ Name: name, Value: value, Type: 'SecureString', Overwrite: true });
  const { host: _host, ...headers } = await signSsmRequest(options, url, body, 'AmazonSSM.PutParameter');
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (error) {
    throw new SsmError('NetworkError', `SSM PutParameter failed: ${(error as Error).message}`, 0, 1, { cause: error });
  }
  if (response.status === 200) {
    await response.arrayBuffer();
    return;
  }
  const text = await response.text().catch(() => '');
  let type = 'InvalidResponse';
  let message = `SSM PutParameter answered ${response.status}`;
  try {
    const parsed = JSON.parse(text) as { __type?: string; message?: string; Message?: string };
    type = parsed.__type?.split('#').pop() ?? type;
    message = parsed.message ?? parsed.Message ?? message;
  } catch {
    // not JSON
  }
  throw new SsmError(type, message, response.status, 1);
}
