/**
 * `keys add|list|retire --kvs-arn` against a loopback KeyValueStore API
 * (test/helpers/fake-kvs.ts) over real HTTP, with the real SDK client pointed
 * at it. The API signs with SigV4A; no SigV4A package is pinned yet, so the
 * in-process tests hand the client a signer (the SDK's `signer` option) that
 * records what the SDK asked of it, and the CLI tests check both states: without
 * the package, one line naming it and no request; with it, real SigV4A headers.
 */
import { createRequire } from 'node:module';
import type { CloudFrontKeyValueStoreClientConfig } from '@aws-sdk/client-cloudfront-keyvaluestore';
import { expect } from 'chai';
import { CliError } from '../../src/cli/common.js';
import {
  type KvsStore,
  kvsArnOf,
  kvsKeysAdd,
  kvsKeysList,
  kvsKeysRetire,
  openKvsStore,
  SIGV4A_PACKAGE,
  SIGV4A_PACKAGE_VERSION,
  WRITE_ATTEMPTS,
} from '../../src/cli/keys-kvs.js';
import { runCli } from '../helpers/cli.js';
import { type FakeKvs, startFakeKvs } from '../helpers/fake-kvs.js';

const TEST_AUTH = 'TEST-SIGV4A';

describe('cli keys against a deployed KeyValueStore', () => {
  let kvs: FakeKvs;
  let store: KvsStore;
  const signingRegions: (string | undefined)[] = [];

  beforeEach(async () => {
    kvs = await startFakeKvs({ pageSize: 2 });
    const signer: CloudFrontKeyValueStoreClientConfig['signer'] = {
      sign: async (request, options) => {
        signingRegions.push(options?.signingRegion);
        request.headers.authorization = TEST_AUTH;
        return request;
      },
    };
    store = openKvsStore(kvs.arn, {
      endpoint: kvs.endpoint,
      requestHandler: { httpAgent: kvs.loopbackAgent },
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
      signer,
    });
  });
  afterEach(async () => {
    store?.client.destroy();
    await kvs?.close();
  });

  const rejection = async (promise: Promise<unknown>): Promise<Error> => {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected a rejection');
  };

  it('adds a key with an ETag-conditional PutKey, returns its secret once, lists it without the secret', async () => {
    const before = kvs.etag();
    const added = await kvsKeysAdd(store, 'k2');
    expect(added.secret).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(kvs.items.get('k2')).to.equal(added.secret);
    const put = kvs.calls.filter((c) => c.operation === 'PutKey');
    expect(put).to.have.length(1);
    expect(put[0]).to.include({ key: 'k2', ifMatch: before, status: 200 });
    // Describe (the ETag) came first, then the existence check, then the write.
    expect(kvs.calls.map((c) => c.operation)).to.deep.equal(['DescribeKeyValueStore', 'GetKey', 'PutKey']);
    // The endpoint rules ask for SigV4A (region set `*`), signed by what the client was given.
    expect(signingRegions.at(-1)).to.equal('*');
    expect(kvs.calls.every((c) => c.authorization === TEST_AUTH)).to.equal(true);

    await kvsKeysAdd(store, 'a1');
    await kvsKeysAdd(store, 'z9');
    const listed = await kvsKeysList(store);
    // Three keys over pages of two: ListKeys was followed through NextToken.
    expect(listed).to.deep.equal([
      { kid: 'a1', status: 'active' },
      { kid: 'k2', status: 'active' },
      { kid: 'z9', status: 'active' },
    ]);
    expect(kvs.calls.filter((c) => c.operation === 'ListKeys')).to.have.length(2);
    expect(JSON.stringify(listed)).not.to.include(added.secret);
  });

  it('never reuses a kid, active or retired', async () => {
    await kvsKeysAdd(store, 'k2');
    const secret = kvs.items.get('k2');
    const again = await rejection(kvsKeysAdd(store, 'k2'));
    expect(again).to.be.instanceOf(CliError);
    expect(again.message).to.match(/k2 exists.*never reused/);
    await kvsKeysRetire(store, 'k2');
    expect((await rejection(kvsKeysAdd(store, 'k2'))).message).to.match(/k2 exists \(retired\)/);
    expect(kvs.items.get('k2')).to.equal('');
    expect(secret).to.not.equal('');
  });

  it('retires by writing "" (not DeleteKey), idempotently, and retires an absent default so the baked secret is refused', async () => {
    await kvsKeysAdd(store, 'k1');
    await kvsKeysRetire(store, 'k1');
    expect(kvs.items.get('k1')).to.equal('');
    expect(kvs.calls.some((c) => c.operation === 'DeleteKey')).to.equal(false);
    expect(await kvsKeysList(store)).to.deep.equal([{ kid: 'k1', status: 'retired' }]);
    const writes = () => kvs.calls.filter((c) => c.operation === 'PutKey').length;
    const before = writes();
    expect(await kvsKeysRetire(store, 'k1')).to.include({ written: false });
    expect(writes()).to.equal(before);

    // `default` missing from the store means SIGNING_SECRET: retiring it must leave "".
    expect(kvs.items.has('default')).to.equal(false);
    await kvsKeysRetire(store, 'default');
    expect(kvs.items.get('default')).to.equal('');

    const missing = await rejection(kvsKeysRetire(store, 'nope'));
    expect(missing).to.be.instanceOf(CliError);
    expect(missing.message).to.equal(`No signing key nope in ${kvs.arn}`);
    expect(kvs.items.has('nope')).to.equal(false);
  });

  it('re-reads and retries when another writer changed the store between Describe and PutKey (409)', async () => {
    // Someone else adds k7 in between: the first PutKey carries a stale ETag.
    kvs.interleave((items) => items.set('k7', 'their-secret'));
    const added = await kvsKeysAdd(store, 'k8');
    expect(added.attempts).to.equal(2);
    const puts = kvs.calls.filter((c) => c.operation === 'PutKey');
    expect(puts.map((c) => c.status)).to.deep.equal([409, 200]);
    expect(puts[0]?.ifMatch).to.not.equal(puts[1]?.ifMatch);
    expect(kvs.items.get('k7')).to.equal('their-secret');
    expect(kvs.items.get('k8')).to.equal(added.secret);

    // The other writer took the very kid we wanted: the re-read sees it, nothing is overwritten.
    kvs.interleave((items) => items.set('k9', 'theirs'));
    const clash = await rejection(kvsKeysAdd(store, 'k9'));
    expect(clash.message).to.match(/k9 exists/);
    expect(kvs.items.get('k9')).to.equal('theirs');

    // A key someone else retired in between: the re-read sees it retired, no second write.
    kvs.interleave((items) => items.set('k8', ''));
    expect(await kvsKeysRetire(store, 'k8')).to.include({ written: false });
    expect(kvs.items.get('k8')).to.equal('');
  });

  it('gives up with one line after a few conflicts in a row, leaving the store as the other writer left it', async () => {
    kvs.interleave((items) => items.set(`other-${items.size}`, 'x'), WRITE_ATTEMPTS);
    const error = await rejection(kvsKeysAdd(store, 'k3'));
    expect(error).to.be.instanceOf(CliError);
    expect(error.message).to.match(new RegExp(`kept changing under ${WRITE_ATTEMPTS} conditional writes of k3`));
    expect(kvs.items.has('k3')).to.equal(false);
    expect(kvs.calls.filter((c) => c.operation === 'PutKey').map((c) => c.status)).to.deep.equal(
      Array(WRITE_ATTEMPTS).fill(409),
    );
  });

  it('reports an unknown store as one line', async () => {
    const other = openKvsStore('arn:aws:cloudfront::123456789012:key-value-store/other', {
      endpoint: kvs.endpoint,
      requestHandler: { httpAgent: kvs.loopbackAgent },
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
      signer: { sign: async (request) => request },
    });
    try {
      const error = await rejection(kvsKeysList(other));
      expect(error).to.be.instanceOf(CliError);
      expect(error.message).to.match(/^KeyValueStore arn:\S+other: ResourceNotFoundException: /);
      expect(error.message).not.to.include('\n');
    } finally {
      other.client.destroy();
    }
  });

  it('takes the ARN from --kvs-arn, else SIGNING_KEYS_KVS_ARN, and refuses what is not a KeyValueStore ARN (exit 2)', () => {
    const saved = process.env.SIGNING_KEYS_KVS_ARN;
    try {
      delete process.env.SIGNING_KEYS_KVS_ARN;
      expect(kvsArnOf(undefined)).to.equal(undefined);
      process.env.SIGNING_KEYS_KVS_ARN = kvs.arn;
      expect(kvsArnOf(undefined)).to.equal(kvs.arn);
      expect(() => kvsArnOf('arn:aws:s3:::bucket')).to.throw(CliError, /SigningKeyStoreArn/);
    } finally {
      if (saved === undefined) delete process.env.SIGNING_KEYS_KVS_ARN;
      else process.env.SIGNING_KEYS_KVS_ARN = saved;
    }
  });

  describe('the CLI', () => {
    const sigv4aInstalled = (() => {
      try {
        createRequire(import.meta.url).resolve(SIGV4A_PACKAGE);
        return true;
      } catch {
        return false;
      }
    })();
    const cliEnv = () => ({
      AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE: kvs.endpoint,
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });

    it(
      sigv4aInstalled
        ? `signs the KeyValueStore API with SigV4A once ${SIGV4A_PACKAGE} is installed`
        : `stops with one line naming ${SIGV4A_PACKAGE}@${SIGV4A_PACKAGE_VERSION} before any request, while it is not installed`,
      async function () {
        this.timeout(60_000);
        // The bin, wired as users run it (the endpoint override is the SDK's own variable).
        const add = await runCli(['keys', 'add', '--kid', 'k5', '--kvs-arn', kvs.arn], { env: cliEnv() });
        expect(add.code).to.equal(1);
        expect(add.stdout).to.equal('');
        expect(add.stderr.trim().split('\n')).to.have.length(1);
        if (!sigv4aInstalled) {
          expect(add.stderr.trim()).to.equal(
            `edge-resizer: Deployed keys need ${SIGV4A_PACKAGE} (the KeyValueStore API signs with SigV4A): npm install ${SIGV4A_PACKAGE}@${SIGV4A_PACKAGE_VERSION}`,
          );
          expect(kvs.calls).to.deep.equal([]);
          expect(() => openKvsStore(kvs.arn, { endpoint: kvs.endpoint })).to.throw(CliError, /npm install/);
          return;
        }
        // Installed: the bin got as far as the network (kvs.test resolves only through the test's agent).
        expect(add.stderr).to.match(/^edge-resizer: KeyValueStore arn:/);
        const real = openKvsStore(kvs.arn, {
          endpoint: kvs.endpoint,
          requestHandler: { httpAgent: kvs.loopbackAgent },
          credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
        });
        try {
          const added = await kvsKeysAdd(real, 'k5');
          expect(kvs.items.get('k5')).to.equal(added.secret);
          expect(kvs.calls.every((c) => c.authorization.startsWith('AWS4-ECDSA-P256-SHA256 '))).to.equal(true);
        } finally {
          real.client.destroy();
        }
      },
    );

    it('refuses a --kvs-arn that is no KeyValueStore ARN with exit 2', async function () {
      this.timeout(60_000);
      const result = await runCli(['keys', 'list', '--kvs-arn', 'arn:aws:s3:::bucket'], { env: cliEnv() });
      expect(result.code).to.equal(2);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/SigningKeyStoreArn/);
      expect(kvs.calls).to.deep.equal([]);
    });
  });
});
