/**
 * The one SSM call, against the loopback SSM of bench/lib/ssm-server.ts over
 * real HTTP: it recomputes every Signature V4 with node:crypto from the secret
 * it knows and answers with SSM's own error shapes.
 */
import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { expect } from 'chai';
import { type SsmServer, startSsmServer } from '../../bench/lib/ssm-server.js';
import { createSsmReader } from '../../src/storage/clients.js';
import {
  readSsmParameter,
  Sha256,
  SsmError,
  type SsmParameterOptions,
  ssmEndpoint,
} from '../../src/storage/ssm-parameter.js';

const NAME = '/edge-resizer/test/master-key';
const VALUE = 'cd'.repeat(32);
const SECRET = { accessKeyId: 'AKIDSSMTEST', secretAccessKey: 'ssm-test-secret' };

async function failure(work: Promise<unknown>): Promise<SsmError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the read should have failed').to.be.instanceOf(SsmError);
  return error as SsmError;
}

describe('storage/ssm-parameter', () => {
  let ssm: SsmServer;
  let options: SsmParameterOptions;

  beforeEach(async () => {
    // Prepare: a fresh server (its call log and fault queue) per test.
    ssm = await startSsmServer({ [NAME]: VALUE, '/other': 'x' }, { credentials: SECRET, denied: ['/secret'] });
    options = { region: 'us-east-1', endpoint: ssm.endpoint, credentials: SECRET, timeoutMs: 5000, maxAttempts: 3 };
  });
  afterEach(() => ssm.close());

  it('reads the decrypted value with one signed GetParameter', async () => {
    const value = await readSsmParameter(options, NAME);
    expect(value).to.equal(VALUE);
    expect(ssm.calls).to.deep.equal([
      {
        target: 'AmazonSSM.GetParameter',
        name: NAME,
        withDecryption: true,
        signed: true,
        accessKeyId: SECRET.accessKeyId,
        sessionToken: undefined,
        answer: 200,
      },
    ]);
  });

  it("signs Lambda's session token too, with credentials from a provider", async () => {
    const credentials = async () => ({ ...SECRET, sessionToken: 'lambda-session-token' });
    expect(await readSsmParameter({ ...options, credentials }, NAME)).to.equal(VALUE);
    expect(ssm.calls[0]).to.include({ signed: true, sessionToken: 'lambda-session-token' });
  });

  it('sends nothing, and does not retry, when the credentials provider fails', async () => {
    let asked = 0;
    const credentials = async (): Promise<typeof SECRET> => {
      asked += 1;
      throw new Error('Unable to find environment variable credentials.');
    };
    const error = await readSsmParameter({ ...options, credentials }, NAME).catch((e: unknown) => e);
    expect((error as Error).message).to.include('environment variable credentials');
    expect(asked).to.equal(1);
    expect(ssm.calls).to.have.length(0);
  });

  it('does not retry ParameterNotFound, and says so with SSM’s type', async () => {
    const error = await failure(readSsmParameter(options, '/missing'));
    expect(error).to.include({ type: 'ParameterNotFound', name: 'ParameterNotFound', status: 400, attempts: 1 });
    expect(ssm.calls).to.have.length(1);
  });

  it('does not retry AccessDeniedException, and carries its Message', async () => {
    const error = await failure(readSsmParameter(options, '/secret'));
    expect(error.type).to.equal('AccessDeniedException');
    expect(error.message).to.include('is not authorized to perform: ssm:GetParameter');
    expect(ssm.calls).to.have.length(1);
  });

  it('retries a 500 and reads the value on the next attempt', async () => {
    ssm.fail({ status: 500, type: 'InternalServerError', message: 'try again' });
    expect(await readSsmParameter(options, NAME)).to.equal(VALUE);
    expect(ssm.calls.map((call) => call.answer)).to.deep.equal([500, 200]);
  });

  it('retries throttling (400 ThrottlingException) and a reset connection', async () => {
    ssm.fail({ status: 400, type: 'ThrottlingException', message: 'Rate exceeded' }, 'reset');
    expect(await readSsmParameter(options, NAME)).to.equal(VALUE);
    expect(ssm.calls.map((call) => call.answer)).to.deep.equal([400, 'reset', 200]);
  });

  it('retries an answer cut off halfway by a closed connection', async () => {
    ssm.fail('cut');
    expect(await readSsmParameter(options, NAME)).to.equal(VALUE);
    expect(ssm.calls.map((call) => call.answer)).to.deep.equal(['cut', 200]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    ssm.fail(...Array.from({ length: 5 }, () => ({ status: 503, type: 'ServiceUnavailable', message: 'down' })));
    const error = await failure(readSsmParameter(options, NAME));
    expect(error).to.include({ type: 'ServiceUnavailable', status: 503, attempts: 3 });
    expect(error.message).to.include('down');
    expect(ssm.calls).to.have.length(3);
  });

  it('is refused when signed with the wrong secret, and does not retry', async () => {
    const wrong = { ...options, credentials: { ...SECRET, secretAccessKey: 'not-the-secret' } };
    const error = await failure(readSsmParameter(wrong, NAME));
    expect(error).to.include({ type: 'InvalidSignatureException', status: 400, attempts: 1 });
    expect(ssm.calls).to.have.length(1);
    expect(ssm.calls[0]?.signed).to.equal(false);
  });

  it('is refused when the body is not the one that was signed (the fake hashes what it received)', async () => {
    const url = new URL(ssm.endpoint);
    const signed = await new SignatureV4({
      service: 'ssm',
      region: 'us-east-1',
      credentials: SECRET,
      sha256: Sha256,
    }).sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonSSM.GetParameter',
      },
      body: JSON.stringify({ Name: '/other', WithDecryption: true }),
    });
    const tampered = JSON.stringify({ Name: NAME, WithDecryption: true });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: signed.headers }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(tampered);
    });
    expect(answer.status).to.equal(400);
    expect(JSON.parse(answer.body).__type).to.equal('InvalidSignatureException');
    expect(answer.body).not.to.include(VALUE);
  });

  it('is refused when the signature is scoped to another region', async () => {
    const error = await failure(readSsmParameter({ ...options, region: 'eu-west-1' }, NAME));
    expect(error.type).to.equal('InvalidSignatureException');
    expect(error.message).to.include('region');
  });

  it('ends with a TimeoutError within timeoutMs when SSM never answers, without a retry past the deadline', async function () {
    this.timeout(10_000);
    ssm.fail('hang', 'hang', 'hang');
    const error = await failure(readSsmParameter({ ...options, timeoutMs: 300 }, NAME));
    expect(error.type).to.equal('TimeoutError');
    expect(ssm.calls).to.have.length(1);
  });

  it('ends with a TimeoutError when the answer stops halfway through its body', async function () {
    this.timeout(10_000);
    ssm.fail('stall');
    const error = await failure(readSsmParameter({ ...options, timeoutMs: 300 }, NAME));
    expect(error.type).to.equal('TimeoutError');
    expect(ssm.calls.map((call) => call.answer)).to.deep.equal(['stall']);
  });

  it("ends with the caller's reason when its signal aborts, and sends nothing for an aborted signal", async () => {
    ssm.fail('hang');
    const controller = new AbortController();
    const reason = new Error('budget spent');
    const pending = readSsmParameter(options, NAME, controller.signal);
    // Abort once the server holds the request.
    while (ssm.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(reason);
    expect(await pending.catch((e: unknown) => e)).to.equal(reason);

    const before = ssm.calls.length;
    expect(await readSsmParameter(options, NAME, AbortSignal.abort(reason)).catch((e: unknown) => e)).to.equal(reason);
    expect(ssm.calls).to.have.length(before);
  });

  it('never puts the value into an error, even for a malformed 200', async () => {
    // A 200 whose JSON lost its Value: the error names the problem, not the body.
    ssm.fail({ status: 200, type: VALUE });
    const error = await failure(readSsmParameter({ ...options, maxAttempts: 1 }, NAME));
    expect(error.type).to.equal('InvalidResponse');
    expect(error.message).not.to.include(VALUE);
  });

  it('finds the endpoint as the SDK does: AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, then the regional one', () => {
    expect(ssmEndpoint('eu-west-1', {})).to.equal('https://ssm.eu-west-1.amazonaws.com');
    expect(ssmEndpoint('eu-west-1', { AWS_ENDPOINT_URL: 'http://a' })).to.equal('http://a');
    expect(ssmEndpoint('eu-west-1', { AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_SSM: 'http://b' })).to.equal(
      'http://b',
    );
  });

  it('createSsmReader reads through AWS_ENDPOINT_URL_SSM over one kept-alive connection', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_SSM;
    process.env.AWS_ENDPOINT_URL_SSM = ssm.endpoint;
    try {
      const read = createSsmReader({ region: 'us-east-1', credentials: SECRET, timeoutMs: 5000, maxAttempts: 2 });
      expect(await read(NAME)).to.equal(VALUE);
      expect(await read('/other')).to.equal('x');
      expect(ssm.calls.map((call) => call.signed)).to.deep.equal([true, true]);
      expect(ssm.connections()).to.equal(1);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SSM;
      else process.env.AWS_ENDPOINT_URL_SSM = saved;
    }
  });
});
