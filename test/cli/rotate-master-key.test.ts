/**
 * `rotate-master-key` against a real s3rver with real encrypted originals:
 * every data key re-wrapped and no body touched, resumable from its marker,
 * verified with the new key alone, and a write it missed caught by the
 * verification instead of left unreadable. Then the real bin on a local CDN's
 * data dir, and the CDN serving from it afterwards.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import type { CliError } from '../../src/cli/common.js';
import {
  type KeyMaterial,
  type ProgressMarker,
  type RotationProgress,
  rotateDeployed,
  runRotation,
} from '../../src/cli/rotate-master-key.js';
import {
  decryptBuffer,
  encryptBuffer,
  formatKeyring,
  KEY_ID_META,
  keyringOf,
  masterKeyId,
  parseMasterKey,
} from '../../src/core/envelope.js';
import { startLocalServer } from '../../src/local/server.js';
import { originalObjects } from '../../src/storage/original-objects.js';
import { readSsmParameter } from '../../src/storage/ssm-parameter.js';
import { putSsmParameter } from '../../src/storage/ssm-write.js';
import { runCli } from '../helpers/cli.js';
import { type FakeSsm, startFakeSsm } from '../helpers/fake-ssm.js';
import { fixture } from '../helpers/images.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

function memoryKeys(text: string): KeyMaterial & { text: string } {
  const keys = {
    text,
    read: async () => keys.text,
    write: async (next: string) => {
      keys.text = next;
    },
  };
  return keys;
}

function memoryProgress(): ProgressMarker & { value?: RotationProgress } {
  const marker: ProgressMarker & { value?: RotationProgress } = {
    read: async () => marker.value && { ...marker.value },
    write: async (progress) => {
      marker.value = { ...progress };
    },
    clear: async () => {
      marker.value = undefined;
    },
  };
  return marker;
}

/** A long key: one segment over s3rver's 255-byte file names (stored split, listed as one object). */
const LONG_KEY = `long/${'x'.repeat(300)}.bin`;
const KEYS = ['a/one.bin', 'b/two.bin', 'c/three.bin', '_versions/c/three.bin/abc123', 'd/four.bin', LONG_KEY];

describe('rotate-master-key', function () {
  this.timeout(120_000);
  let storage: TestStorage;
  const plaintexts = new Map<string, Buffer>();

  beforeEach(async () => {
    storage = await startTestStorage();
    for (const key of KEYS) {
      const plaintext = Buffer.from(`original ${key} `.repeat(50));
      plaintexts.set(key, plaintext);
      const { body, metadata } = encryptBuffer(plaintext, storage.masterKey);
      await storage.store.putOriginal(key, body, { ...metadata, 'resizer-object': key }, body.length);
    }
  });
  afterEach(() => storage.close());

  async function bodies(): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    for (const key of KEYS) found.set(key, (await storage.store.getOriginal(key))?.body ?? Buffer.alloc(0));
    return found;
  }

  it('re-wraps every data key under a new key without re-encrypting a body, and verifies each with the new key alone', async () => {
    const before = await bodies();
    const keys = memoryKeys(`${storage.masterKey.toString('hex')}\n`);
    const progress = memoryProgress();
    const report = await runRotation({ store: storage.store, keys, progress, pageSize: 2 });
    expect(report).to.include({ rewrapped: KEYS.length, alreadyDone: 0, verified: KEYS.length });
    const newKey = parseMasterKey(keys.text);
    expect(keyringOf(newKey), 'the key material is the new key alone').to.have.length(1);
    expect(newKey.equals(storage.masterKey)).to.equal(false);
    expect(report.keyId).to.equal(masterKeyId(newKey));
    expect(report.previousKeyIds).to.deep.equal([masterKeyId(storage.masterKey)]);
    expect(progress.value, 'the marker is gone').to.equal(undefined);
    const after = await bodies();
    for (const key of KEYS) {
      const stored = await storage.store.getOriginal(key);
      expect(after.get(key)?.equals(before.get(key) ?? Buffer.alloc(0)), `${key}: same ciphertext`).to.equal(true);
      expect(stored?.metadata[KEY_ID_META]).to.equal(report.keyId);
      expect(stored?.metadata['resizer-object'], 'other metadata kept').to.equal(key);
      expect(decryptBuffer(stored?.body ?? Buffer.alloc(0), stored?.metadata ?? {}, newKey)).to.deep.equal(
        plaintexts.get(key),
      );
      expect(() =>
        decryptBuffer(stored?.body ?? Buffer.alloc(0), stored?.metadata ?? {}, Buffer.from(storage.masterKey)),
      ).to.throw(/could not be decrypted/);
    }
  });

  it('stops halfway and resumes after its marker; meanwhile a reader with the keyring reads everything', async () => {
    const keys = memoryKeys(`${storage.masterKey.toString('hex')}\n`);
    const progress = memoryProgress();
    let pages = 0;
    const interrupted = await runRotation({
      store: storage.store,
      keys,
      progress,
      pageSize: 2,
      afterPage: () => {
        pages += 1;
        if (pages === 2) throw new Error('interrupted');
      },
    }).catch((error: Error) => error);
    expect((interrupted as Error).message).to.equal('interrupted');
    const keyring = parseMasterKey(keys.text);
    expect(keyringOf(keyring), 'new and old key during the rotation').to.have.length(2);
    expect(progress.value?.after).to.be.a('string').and.not.equal('');
    let rewrappedSoFar = 0;
    for (const key of KEYS) {
      const stored = await storage.store.getOriginal(key);
      // A reader holding the keyring reads re-wrapped and not-yet re-wrapped originals alike.
      expect(decryptBuffer(stored?.body ?? Buffer.alloc(0), stored?.metadata ?? {}, keyring)).to.deep.equal(
        plaintexts.get(key),
      );
      if (stored?.metadata[KEY_ID_META] === masterKeyId(keyring)) rewrappedSoFar += 1;
    }
    expect(rewrappedSoFar).to.equal(4);

    const resumed = await runRotation({ store: storage.store, keys, progress, pageSize: 2 });
    expect(resumed.keyId, 'the same new key').to.equal(masterKeyId(keyring));
    expect(resumed).to.include({ rewrapped: KEYS.length - 4, alreadyDone: 0, verified: KEYS.length });
    expect(keyringOf(parseMasterKey(keys.text))).to.have.length(1);

    // A run over a bucket already done re-wraps nothing.
    const again = memoryKeys(formatKeyring([parseMasterKey(keys.text), storage.masterKey]));
    const noop = await runRotation({ store: storage.store, keys: again, progress: memoryProgress() });
    expect(noop).to.include({ rewrapped: 0, alreadyDone: KEYS.length, verified: KEYS.length });
  });

  it('an original written with the old key behind its marker fails the verification, keeps both keys, and the next run fixes it', async () => {
    const keys = memoryKeys(`${storage.masterKey.toString('hex')}\n`);
    const progress = memoryProgress();
    let wrote = false;
    const failure = await runRotation({
      store: storage.store,
      keys,
      progress,
      pageSize: 2,
      afterPage: async (at) => {
        if (wrote) return;
        wrote = true;
        // A writer still holding the old key uploads, before the marker (key order), after the walk passed.
        expect(at.after > '0-early.bin').to.equal(true);
        const { body, metadata } = encryptBuffer(Buffer.from('late upload'), storage.masterKey);
        await storage.store.putOriginal('0-early.bin', body, metadata, body.length);
      },
    }).catch((error: Error) => error);
    expect((failure as Error).message).to.match(/1 original\(s\) do not read back with the new key \(0-early\.bin\)/);
    expect(keyringOf(parseMasterKey(keys.text)), 'both keys kept').to.have.length(2);
    expect(progress.value?.after, 'the marker starts over').to.equal('');
    const fixed = await runRotation({ store: storage.store, keys, progress });
    expect(fixed).to.include({ rewrapped: 1, alreadyDone: KEYS.length, verified: KEYS.length + 1 });
  });

  it('lists every object once, the long key whole', async () => {
    const listed: string[] = [];
    for await (const page of originalObjects(storage.store, '', 2)) listed.push(...page.map((o) => o.key));
    expect([...listed].sort()).to.deep.equal([...KEYS].sort());
  });
});

describe('rotate-master-key (the bin, on a local CDN data dir)', function () {
  this.timeout(180_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-rotate-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('rotates the data dir, and the local CDN serves the same images with the new key', async () => {
    const first = await startLocalServer({ dataDir: dir, port: 0, seedSamples: false, logLevel: 'silent' });
    let oldKey: string;
    try {
      const upload = await fetch(`${first.url}/api/images/photos/fig.jpg`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${first.apiToken}` },
        body: fixture('photos/fig.jpg'),
      });
      expect(upload.status).to.equal(201);
      oldKey = (await readFile(join(dir, 'master.key'), 'utf8')).trim();
    } finally {
      await first.close();
    }
    const result = await runCli(['rotate-master-key', '--data-dir', dir], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).to.equal(0);
    const report = JSON.parse(result.stdout);
    // The image's `<key>` copy and its `_versions/` object.
    expect(report).to.include({ rewrapped: 2, verified: 2 });
    const newKey = (await readFile(join(dir, 'master.key'), 'utf8')).trim();
    expect(newKey)
      .to.match(/^[0-9a-f]{64}$/)
      .and.not.equal(oldKey);

    const second = await startLocalServer({ dataDir: dir, port: 0, seedSamples: false, logLevel: 'silent' });
    try {
      const image = await fetch(`${second.url}/photos/fig.jpg?width=90`, { headers: { accept: 'image/webp' } });
      expect(image.status).to.equal(200);
      expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).to.equal(90);
    } finally {
      await second.close();
    }
  });
});

describe('rotate-master-key --stage (deployed: SSM keyring in three phases)', function () {
  this.timeout(120_000);
  let storage: TestStorage;
  let ssm: FakeSsm;
  const KEY_PARAMETER = '/edge-resizer/prod/master-key';
  const MARKER_PARAMETER = '/edge-resizer/prod/master-key-rotation';

  before(async () => {
    storage = await startTestStorage();
    ssm = await startFakeSsm({ [KEY_PARAMETER]: storage.masterKey.toString('hex') });
    for (const key of ['a.bin', 'b.bin', 'c.bin']) {
      const { body, metadata } = encryptBuffer(Buffer.from(`bytes of ${key}`), storage.masterKey);
      await storage.store.putOriginal(key, body, metadata, body.length);
    }
  });
  after(async () => {
    await ssm.close();
    await storage.close();
  });

  const options = {
    region: 'us-east-1',
    endpoint: '',
    credentials: { accessKeyId: 'AKIDSSM', secretAccessKey: 'ssm-test' },
    timeoutMs: 5000,
  };
  const parameter = (name: string, missing?: string): KeyMaterial => ({
    read: () =>
      readSsmParameter({ ...options, endpoint: ssm.endpoint, maxAttempts: 1 }, name).catch(
        (error: { type?: string }) => {
          if (error.type === 'ParameterNotFound' && missing !== undefined) return missing;
          throw error;
        },
      ),
    write: (text) => putSsmParameter({ ...options, endpoint: ssm.endpoint }, name, text),
  });
  const deps = () => ({
    store: storage.store,
    keys: parameter(KEY_PARAMETER),
    marker: parameter(MARKER_PARAMETER, '{}'),
  });
  /** A container that read the key parameter now: it uploads with the keyring's first key. */
  const container = () => parseMasterKey(ssm.parameters.get(KEY_PARAMETER) ?? '');
  const readsAll = async (key: Buffer) => {
    for await (const page of originalObjects(storage.store)) {
      for (const object of page) {
        const stored = await storage.store.getOriginal(object.key);
        decryptBuffer(stored?.body ?? Buffer.alloc(0), stored?.metadata ?? {}, key);
      }
    }
  };

  it('refuses to rotate before prepare, and a bad phase as usage', async () => {
    const early = await rotateDeployed({ dataDir: '', stage: 'prod', phase: 'rotate' }, deps()).catch((e: Error) => e);
    expect((early as Error).message).to.match(/--phase prepare first/);
    const bad = await rotateDeployed({ dataDir: '', stage: 'prod', phase: 'now' }, deps()).catch((e: CliError) => e);
    expect((bad as CliError).exitCode).to.equal(2);
    expect(ssm.parameters.get(KEY_PARAMETER)).to.equal(storage.masterKey.toString('hex'));
  });

  it('prepare → rotate → finish: readers of every phase read everything, and what old containers wrote in between is caught', async () => {
    const oldOnly = Buffer.from(storage.masterKey);
    const prepared = await rotateDeployed({ dataDir: '', stage: 'prod', phase: 'prepare' }, deps());
    const preparedRing = container();
    expect(keyringOf(preparedRing)).to.have.length(2);
    expect(preparedRing.equals(storage.masterKey), 'the old key still wraps after prepare').to.equal(true);
    expect(masterKeyId(keyringOf(preparedRing)[1] as Buffer)).to.equal(prepared.keyId);
    await readsAll(oldOnly); // nothing re-wrapped yet: containers that never reloaded still read all

    const rotated = await rotateDeployed({ dataDir: '', stage: 'prod', phase: 'rotate' }, deps());
    expect(rotated).to.include({ phase: 'rotated', rewrapped: 3, verified: 3, keyId: prepared.keyId });
    const rotatingRing = container();
    expect(masterKeyId(rotatingRing), 'the new key wraps after rotate').to.equal(prepared.keyId);
    expect(keyringOf(rotatingRing), 'the old key is still accepted').to.have.length(2);
    await readsAll(preparedRing); // a container of the prepared keyring reads the re-wrapped originals

    // A container still holding the prepared keyring uploads with the old key.
    const late = encryptBuffer(Buffer.from('late upload'), preparedRing);
    await storage.store.putOriginal('0-late.bin', late.body, late.metadata, late.body.length);

    const finished = await rotateDeployed({ dataDir: '', stage: 'prod', phase: 'finish' }, deps());
    expect(finished).to.include({ phase: 'finished', rewrapped: 1, alreadyDone: 3, verified: 4 });
    const finalKey = container();
    expect(keyringOf(finalKey)).to.have.length(1);
    expect(masterKeyId(finalKey)).to.equal(prepared.keyId);
    expect(ssm.parameters.get(MARKER_PARAMETER)).to.equal('{}');
    await readsAll(Buffer.from(finalKey));
  });
});
