/**
 * The master key and the API's secrets from SSM, through the deployed reader
 * (`createSsmReader`) against the loopback SSM: read once per container,
 * a failed read not cached, and a `storage_error` that tells a client nothing.
 */
import { expect } from 'chai';
import { type SsmServer, startSsmServer } from '../../bench/lib/ssm-server.js';
import { HttpError } from '../../src/core/errors.js';
import { createSsmReader, LOCAL_CREDENTIALS, type SsmReader } from '../../src/storage/clients.js';
import { createMasterKeyProvider, createParameterReader } from '../../src/storage/master-key.js';

const KEY_NAME = '/edge-resizer/test/master-key';
const KEY_HEX = '0f'.repeat(32);

async function rejection(work: Promise<unknown>): Promise<HttpError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(HttpError);
  return error as HttpError;
}

describe('storage/master-key', () => {
  let ssm: SsmServer;
  let read: SsmReader;
  const ssmKey = { type: 'ssm', parameterName: KEY_NAME, region: 'us-east-1' } as const;

  beforeEach(async () => {
    ssm = await startSsmServer({ [KEY_NAME]: KEY_HEX, '/token': '  tok-123\n', '/blank': '   ', '/short': 'abcd' });
    process.env.AWS_ENDPOINT_URL_SSM = ssm.endpoint;
    read = createSsmReader({ region: 'us-east-1', credentials: LOCAL_CREDENTIALS, timeoutMs: 5000, maxAttempts: 1 });
  });
  afterEach(async () => {
    delete process.env.AWS_ENDPOINT_URL_SSM;
    await ssm.close();
  });

  it('reads an SSM master key once and serves it from memory after', async () => {
    const masterKey = createMasterKeyProvider(ssmKey, read);
    const [first, second] = await Promise.all([masterKey(), masterKey()]);
    expect(first?.toString('hex')).to.equal(KEY_HEX);
    expect(await masterKey()).to.equal(first);
    expect(second).to.equal(first);
    expect(ssm.calls).to.have.length(1);
    expect(ssm.calls[0]).to.include({ name: KEY_NAME, withDecryption: true, signed: true });
  });

  it('answers storage_error for a failed read, without AWS text, and tries again on the next call', async () => {
    ssm.fail({ status: 500, type: 'InternalServerError', message: 'internal detail' });
    const masterKey = createMasterKeyProvider(ssmKey, read);
    const error = await rejection(masterKey());
    expect(error).to.include({ code: 'storage_error', status: 502, message: 'The master key is unavailable' });
    expect((error.cause as Error).name).to.equal('InternalServerError');
    expect((await masterKey()).toString('hex')).to.equal(KEY_HEX);
    expect(ssm.calls.map((call) => call.answer)).to.deep.equal([500, 200]);
  });

  it('refuses a parameter that is not a 256-bit key, and a missing one', async () => {
    const short = await rejection(createMasterKeyProvider({ ...ssmKey, parameterName: '/short' }, read)());
    expect(short.code).to.equal('storage_error');
    expect(short.message).not.to.include('abcd');
    const missing = await rejection(createMasterKeyProvider({ ...ssmKey, parameterName: '/none' }, read)());
    expect((missing.cause as Error).name).to.equal('ParameterNotFound');
  });

  it('reads a configuration secret trimmed and cached, and an empty one is a storage_error', async () => {
    const token = createParameterReader(read, '/token');
    expect(await token()).to.equal('tok-123');
    expect(await token()).to.equal('tok-123');
    expect(ssm.calls).to.have.length(1);
    const blank = await rejection(createParameterReader(read, '/blank')());
    expect(blank).to.include({ code: 'storage_error', message: 'A configuration secret is unavailable' });
  });
});
