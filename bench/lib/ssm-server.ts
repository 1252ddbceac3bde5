/**
 * A loopback stand-in for AWS Systems Manager, speaking the one call the
 * product makes: `GetParameter` over SSM's JSON protocol (POST /,
 * `X-Amz-Target: AmazonSSM.GetParameter`, `application/x-amz-json-1.1`). The
 * cold-start row and the deploy tests point the bundled handlers at it through
 * `AWS_ENDPOINT_URL_SSM`, so the master key is read as deployed, not inline;
 * the tests of `src/storage/ssm-parameter.ts` use it too.
 *
 * Like SSM it checks the Signature V4 of every request, recomputed here with
 * node:crypto from the one secret it knows (independently of the signer under
 * test), and answers with SSM's error shapes: `{"__type": …, "message": …}`
 * with status 400 for a client error, 5xx for its own. Faults can be queued
 * (`fail`) to test retries and timeouts.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SsmServerOptions {
  /** The one access key it accepts, and its secret. @default S3RVER / S3RVER (the local credentials) */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The region a signature must be scoped to. @default 'us-east-1' */
  region?: string;
  /** Names that exist but the caller may not read: `AccessDeniedException`. */
  denied?: string[];
}

/**
 * An answer given instead of the normal one: an error status and type, no answer at all (`hang`),
 * a 200 whose body stops halfway (`stall`) or is cut off there by a closed connection (`cut`), or a
 * reset connection.
 */
export type SsmFault = { status: number; type?: string; message?: string } | 'hang' | 'stall' | 'cut' | 'reset';

export interface SsmCall {
  target: string;
  name: string;
  withDecryption: boolean;
  /** Whether the request carried a SigV4 signature that verified with the known secret. */
  signed: boolean;
  accessKeyId?: string;
  sessionToken?: string;
  /** What it answered: the status, or the fault. */
  answer: number | 'hang' | 'stall' | 'cut' | 'reset';
}

export interface SsmServer {
  endpoint: string;
  /** Every request, in order. */
  calls: SsmCall[];
  /** GetParameter calls answered with a value. */
  reads(): number;
  /** TCP connections accepted so far (keep-alive reuses one). */
  connections(): number;
  /** Queues faults: each of the next requests gets the next one instead of its answer. */
  fail(...faults: SsmFault[]): void;
  close(): Promise<void>;
}

const JSON_11 = 'application/x-amz-json-1.1';
/** SigV4 allows 15 minutes of clock skew. */
const MAX_SKEW_MS = 15 * 60 * 1000;

export async function startSsmServer(
  parameters: Record<string, string>,
  options: SsmServerOptions = {},
): Promise<SsmServer> {
  const known = options.credentials ?? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const region = options.region ?? 'us-east-1';
  const values = new Map(Object.entries(parameters));
  const denied = new Set(options.denied ?? []);
  const faults: SsmFault[] = [];
  const calls: SsmCall[] = [];
  let reads = 0;
  let requestId = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let input: { Name?: unknown; WithDecryption?: unknown } | undefined;
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch {
        input = undefined;
      }
      const name = typeof input?.Name === 'string' ? input.Name : '';
      const check = verify(req, body, known, region);
      const call: SsmCall = {
        target: String(req.headers['x-amz-target'] ?? ''),
        name,
        withDecryption: input?.WithDecryption === true,
        signed: check.ok,
        accessKeyId: check.accessKeyId,
        sessionToken: req.headers['x-amz-security-token'] as string | undefined,
        answer: 0,
      };
      calls.push(call);
      const answer = (status: number, payload: unknown) => {
        call.answer = status;
        const text = JSON.stringify(payload);
        res.writeHead(status, {
          'content-type': JSON_11,
          'content-length': Buffer.byteLength(text),
          'x-amzn-requestid': `fake-ssm-${++requestId}`,
        });
        res.end(text);
      };
      const fault = faults.shift();
      if (fault === 'hang') {
        call.answer = 'hang';
        return;
      }
      if (fault === 'stall' || fault === 'cut') {
        call.answer = fault;
        res.writeHead(200, { 'content-type': JSON_11, 'content-length': 1000 });
        res.write('{"Parameter":{"Name":', () => {
          if (fault === 'cut') req.socket.destroy();
        });
        return;
      }
      if (fault === 'reset') {
        call.answer = 'reset';
        req.socket.destroy();
        return;
      }
      if (fault) return answer(fault.status, errorBody(fault.type ?? 'InternalServerError', fault.message));
      if (!check.ok) return answer(400, errorBody(check.type, check.message));
      if (req.method !== 'POST' || call.target !== 'AmazonSSM.GetParameter') {
        return answer(400, errorBody('UnknownOperationException'));
      }
      if (!String(req.headers['content-type']).startsWith(JSON_11) || input === undefined) {
        return answer(400, errorBody('SerializationException', 'Start of structure or map found where not expected.'));
      }
      if (name === '') {
        return answer(400, errorBody('ValidationException', "1 validation error detected: Value null at 'name'"));
      }
      if (denied.has(name)) {
        // IAM's denial is spelled with a capital M.
        return answer(400, {
          __type: 'AccessDeniedException',
          Message: `User: arn:aws:sts::000000000000:assumed-role/fake/${check.accessKeyId} is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:${region}:000000000000:parameter${name}`,
        });
      }
      const value = values.get(name);
      // SSM's ParameterNotFound carries no message.
      if (value === undefined) return answer(400, { __type: 'ParameterNotFound' });
      reads += 1;
      answer(200, {
        Parameter: {
          Name: name,
          Type: 'SecureString',
          Value: value,
          Version: 1,
          LastModifiedDate: Math.floor(Date.now() / 1000),
          ARN: `arn:aws:ssm:${region}:000000000000:parameter${name.startsWith('/') ? '' : '/'}${name}`,
          DataType: 'text',
        },
      });
    });
  });
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    reads: () => reads,
    connections: () => connections,
    fail: (...more) => {
      faults.push(...more);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function errorBody(type: string, message?: string): { __type: string; message?: string } {
  return message === undefined ? { __type: type } : { __type: type, message };
}

type Verdict = { ok: true; accessKeyId: string } | { ok: false; accessKeyId?: string; type: string; message: string };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** Signature V4 as AWS checks it (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html). */
function verify(
  req: IncomingMessage,
  body: Buffer,
  known: { accessKeyId: string; secretAccessKey: string },
  region: string,
): Verdict {
  const header = req.headers.authorization;
  if (!header)
    return { ok: false, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const match = AUTHORIZATION.exec(header);
  if (!match) return { ok: false, type: 'IncompleteSignatureException', message: 'Authorization header is malformed' };
  const [, accessKeyId = '', date = '', scopeRegion = '', service = '', signedHeaders = '', signature = ''] = match;
  const refuse = (type: string, message: string): Verdict => ({ ok: false, accessKeyId, type, message });
  if (accessKeyId !== known.accessKeyId) {
    return refuse('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  if (service !== 'ssm')
    return refuse('InvalidSignatureException', "Credential should be scoped to correct service: 'ssm'.");
  if (scopeRegion !== region) {
    return refuse('InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const at = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (amzDate.slice(0, 8) !== date || !(Math.abs(Date.now() - at) <= MAX_SKEW_MS)) {
    return refuse('InvalidSignatureException', `Signature expired or not yet valid: ${amzDate || 'no X-Amz-Date'}`);
  }
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return refuse('InvalidSignatureException', "'Host' and 'X-Amz-Date' must be signed");
  }
  if (req.headers['x-amz-security-token'] !== undefined && !names.includes('x-amz-security-token')) {
    return refuse('InvalidSignatureException', "'X-Amz-Security-Token' must be signed");
  }
  const payloadHash = sha256Hex(body);
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== payloadHash) {
    return refuse('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match the body');
  }
  const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
  const canonicalQuery = query.split('&').filter(Boolean).sort().join('&');
  const canonicalHeaders = names
    .map((name) => {
      const value = req.headers[name];
      const text = Array.isArray(value) ? value.join(',') : (value ?? '');
      return `${name}:${text.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const canonicalRequest = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${scopeRegion}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(Buffer.from(canonicalRequest))].join('\n');
  let key: Buffer = hmac(`AWS4${known.secretAccessKey}`, date);
  for (const part of [scopeRegion, service, 'aws4_request']) key = hmac(key, part);
  const expected = hmac(key, stringToSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return refuse(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return { ok: true, accessKeyId };
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
