import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import {
  createDecryptStream,
  createEncryptStream,
  decryptBuffer,
  encryptBuffer,
  formatKeyring,
  generateMasterKeyHex,
  isWrappedBy,
  KEY_ID_META,
  META,
  masterKeyId,
  parseMasterKey,
  planRangeDecrypt,
  rewrapDataKey,
  TAG_BYTES,
} from '../../src/core/envelope.js';
import { HttpError } from '../../src/core/errors.js';

const masterKey = randomBytes(32);
const plaintext = randomBytes(100_003);

function expectDecryptFailed(fn: () => unknown) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).to.be.instanceOf(HttpError);
  expect((caught as HttpError).code).to.equal('decrypt_failed');
  expect((caught as HttpError).status).to.equal(502);
}

describe('core/envelope', () => {
  it('round-trips a buffer and writes the S3 Encryption Client v2 metadata', () => {
    const { body, metadata } = encryptBuffer(plaintext, masterKey);
    expect(body.length).to.equal(plaintext.length + TAG_BYTES);
    expect(metadata[META.contentAlgorithm]).to.equal('AES/GCM/NoPadding');
    expect(metadata[META.wrapAlgorithm]).to.equal('AES/GCM');
    expect(metadata[META.tagLength]).to.equal('128');
    expect(metadata[META.plaintextLength]).to.equal(String(plaintext.length));
    expect(Buffer.from(metadata[META.iv] as string, 'base64')).to.have.length(12);
    expect(decryptBuffer(body, metadata, masterKey).equals(plaintext)).to.equal(true);
  });

  it('uses a fresh data key and IV per object', () => {
    const a = encryptBuffer(plaintext, masterKey);
    const b = encryptBuffer(plaintext, masterKey);
    expect(a.metadata[META.wrappedKey]).to.not.equal(b.metadata[META.wrappedKey]);
    expect(a.body.equals(b.body)).to.equal(false);
  });

  it('fails with decrypt_failed on a flipped byte in the body, the tag, the IV or the wrapped key', () => {
    const { body, metadata } = encryptBuffer(plaintext, masterKey);
    const flip = (buf: Buffer, at: number) => {
      const copy = Buffer.from(buf);
      copy[at] = (copy[at] as number) ^ 0x01;
      return copy;
    };
    expectDecryptFailed(() => decryptBuffer(flip(body, 10), metadata, masterKey));
    expectDecryptFailed(() => decryptBuffer(flip(body, body.length - 1), metadata, masterKey));
    const iv = flip(Buffer.from(metadata[META.iv] as string, 'base64'), 0).toString('base64');
    expectDecryptFailed(() => decryptBuffer(body, { ...metadata, [META.iv]: iv }, masterKey));
    const wrapped = flip(Buffer.from(metadata[META.wrappedKey] as string, 'base64'), 20).toString('base64');
    expectDecryptFailed(() => decryptBuffer(body, { ...metadata, [META.wrappedKey]: wrapped }, masterKey));
    expectDecryptFailed(() => decryptBuffer(body, metadata, randomBytes(32)));
    expectDecryptFailed(() => decryptBuffer(body.subarray(0, 5), metadata, masterKey));
    expectDecryptFailed(() => decryptBuffer(body, {}, masterKey));
  });

  it('streams: encrypt stream output decrypts as a buffer and through the decrypt stream', async () => {
    const { metadata, stream } = createEncryptStream(masterKey, plaintext.length);
    const chunks = Readable.from([plaintext.subarray(0, 7), plaintext.subarray(7, 70_000), plaintext.subarray(70_000)]);
    const [body] = await Promise.all([buffer(stream), pipeline(chunks, stream)]);
    expect(decryptBuffer(body, metadata, masterKey).equals(plaintext)).to.equal(true);
    // Feed the decrypt stream in odd chunk sizes, so the held-back tag straddles chunks.
    const odd = [
      body.subarray(0, 3),
      body.subarray(3, 65_537),
      body.subarray(65_537, body.length - 5),
      body.subarray(body.length - 5),
    ];
    const decrypt = createDecryptStream(metadata, masterKey);
    const [out] = await Promise.all([buffer(decrypt), pipeline(Readable.from(odd), decrypt)]);
    expect(out.equals(plaintext)).to.equal(true);
  });

  it('errors the decrypt stream with decrypt_failed when the tag does not verify', async () => {
    const { body, metadata } = encryptBuffer(plaintext, masterKey);
    body[body.length - 3] = (body[body.length - 3] as number) ^ 0xff;
    const decrypt = createDecryptStream(metadata, masterKey);
    let caught: unknown;
    try {
      await pipeline(Readable.from([body]), decrypt, new Writable({ write: (_chunk, _encoding, done) => done() }));
    } catch (error) {
      caught = error;
    }
    expect((caught as HttpError).code).to.equal('decrypt_failed');
  });

  describe('the decrypt stream', () => {
    const { body, metadata } = encryptBuffer(plaintext, masterKey);
    const undeclared = { ...metadata };
    delete undeclared[META.plaintextLength];
    /** `stored` in `size`-byte chunks through a decrypt stream: what came out, and the error if any. */
    async function run(stored: Buffer, meta: Record<string, string>, size: number) {
      const pieces: Buffer[] = [];
      const chunks = Array.from({ length: Math.ceil(stored.length / size) }, (_, i) =>
        stored.subarray(i * size, (i + 1) * size),
      );
      let error: unknown;
      try {
        await pipeline(
          Readable.from(chunks),
          createDecryptStream(meta, masterKey),
          new Writable({
            write(chunk: Buffer, _encoding, done) {
              pieces.push(chunk);
              done();
            },
          }),
        );
      } catch (caught) {
        error = caught;
      }
      return { out: Buffer.concat(pieces), error };
    }

    it('gives the plaintext whatever the chunking, with the length declared or not', async () => {
      for (const meta of [metadata, undeclared]) {
        for (const size of [1, 15, 16, 17, 4096, 65_536, body.length]) {
          const { out, error } = await run(body, meta, size);
          expect(error, `chunks of ${size}`).to.equal(undefined);
          expect(out.equals(plaintext), `chunks of ${size}`).to.equal(true);
        }
      }
    });

    it('withholds the end of the plaintext until the tag verifies: a tampered body never comes out whole', async () => {
      for (const at of [100, plaintext.length - 1, body.length - 1]) {
        const tampered = Buffer.from(body);
        tampered[at] = (tampered[at] as number) ^ 0x01;
        for (const meta of [metadata, undeclared]) {
          for (const size of [16, 4096, 65_536, body.length]) {
            const { out, error } = await run(tampered, meta, size);
            expect((error as HttpError)?.code, `byte ${at}, chunks of ${size}`).to.equal('decrypt_failed');
            expect(out.length, `byte ${at}, chunks of ${size}`).to.be.lessThan(plaintext.length);
          }
        }
      }
    });

    it('fails with decrypt_failed when the body is shorter or longer than its metadata declares', async () => {
      const cases: [string, Buffer][] = [
        ['truncated', body.subarray(0, body.length - 1)],
        ['without its tag', body.subarray(0, body.length - TAG_BYTES)],
        ['one byte more', Buffer.concat([body, Buffer.from([0])])],
      ];
      for (const [name, stored] of cases) {
        const { out, error } = await run(stored, metadata, 4096);
        expect((error as HttpError)?.code, name).to.equal('decrypt_failed');
        expect(out.length, name).to.be.lessThan(plaintext.length);
      }
    });
  });

  it('decrypts any byte range without reading from the start (GCM is CTR underneath)', async () => {
    const { body, metadata } = encryptBuffer(plaintext, masterKey);
    const ranges: [number, number][] = [
      [0, 0],
      [0, 15],
      [1, 16],
      [15, 17],
      [50_000, 50_999],
      [plaintext.length - 1, plaintext.length - 1],
      [plaintext.length - 300, plaintext.length - 1],
    ];
    for (const [start, end] of ranges) {
      const plan = planRangeDecrypt(metadata, masterKey, start, end);
      const stored = body.subarray(plan.storedStart, plan.storedEnd + 1);
      const [out] = await Promise.all([buffer(plan.stream), pipeline(Readable.from([stored]), plan.stream)]);
      expect(out.equals(plaintext.subarray(start, end + 1)), `range ${start}-${end}`).to.equal(true);
    }
  });
});

describe('envelope: key ids, keyrings and re-wrapping (master-key rotation)', () => {
  const oldKey = parseMasterKey(generateMasterKeyHex());
  const newKey = parseMasterKey(generateMasterKeyHex());
  const plaintext = Buffer.from('an original, never re-encrypted');

  it('names the wrapping key in the metadata, by a fingerprint that is not the key', () => {
    const { metadata } = encryptBuffer(plaintext, oldKey);
    expect(metadata[KEY_ID_META])
      .to.equal(masterKeyId(oldKey))
      .and.match(/^[A-Za-z0-9_-]{16}$/);
    expect(masterKeyId(oldKey)).to.not.equal(masterKeyId(newKey));
    expect(JSON.stringify(metadata)).to.not.include(oldKey.toString('hex').slice(0, 16));
  });

  it('re-wraps the data key under the new key without touching the body; the old key no longer opens it', () => {
    const { body, metadata } = encryptBuffer(plaintext, oldKey);
    const keyring = parseMasterKey(formatKeyring([newKey, oldKey]));
    const patch = rewrapDataKey(metadata, keyring);
    const rewrapped = { ...metadata, ...patch };
    expect(Object.keys(patch).sort()).to.deep.equal([KEY_ID_META, META.wrappedKey].sort());
    expect(rewrapped[META.iv]).to.equal(metadata[META.iv]);
    expect(decryptBuffer(body, rewrapped, newKey)).to.deep.equal(plaintext);
    expect(isWrappedBy(rewrapped, newKey)).to.equal(true);
    expect(isWrappedBy(metadata, newKey)).to.equal(false);
    expectDecryptFailed(() => decryptBuffer(body, rewrapped, oldKey));
  });

  it('a keyring reads what either of its keys wrapped, and wraps new objects with its first key', () => {
    const keyring = parseMasterKey(`${newKey.toString('hex')}\n${oldKey.toString('hex')}\n`);
    expect(keyring.equals(newKey)).to.equal(true);
    const byOld = encryptBuffer(plaintext, oldKey);
    const byNew = encryptBuffer(plaintext, keyring);
    expect(decryptBuffer(byOld.body, byOld.metadata, keyring)).to.deep.equal(plaintext);
    expect(decryptBuffer(byNew.body, byNew.metadata, keyring)).to.deep.equal(plaintext);
    expect(byNew.metadata[KEY_ID_META]).to.equal(masterKeyId(newKey));
    // An object without a key id (wrapped before ids existed) is tried with every key.
    const { [KEY_ID_META]: _id, ...legacy } = byOld.metadata;
    expect(decryptBuffer(byOld.body, legacy, keyring)).to.deep.equal(plaintext);
    // A key outside the keyring still fails as before.
    const other = parseMasterKey(generateMasterKeyHex());
    expectDecryptFailed(() => decryptBuffer(byOld.body, byOld.metadata, other));
    expectDecryptFailed(() => rewrapDataKey(byOld.metadata, other));
  });

  it('refuses a keyring with anything but 64-hex keys', () => {
    expect(() => parseMasterKey(`${newKey.toString('hex')}\nnot-a-key`)).to.throw(/64 hex/);
    expect(() => parseMasterKey(`${newKey.toString('hex')} ${'ab'.repeat(31)}`)).to.throw(/64 hex/);
  });
});
