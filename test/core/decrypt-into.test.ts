import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { decryptInto, encryptBuffer, generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import { HttpError } from '../../src/core/errors.js';

/** `body` cut at the given sizes, cycling. */
async function* chunked(body: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < body.length; i += 1) {
    const size = sizes[i % sizes.length] ?? 1;
    yield body.subarray(offset, offset + size);
    offset += size;
  }
}

describe('core/envelope decryptInto (the miss path: decrypt while downloading)', () => {
  const masterKey = parseMasterKey(generateMasterKeyHex());
  const plaintext = randomBytes(100_003);
  const { body, metadata } = encryptBuffer(plaintext, masterKey);

  const failure = (run: Promise<unknown>) =>
    run.then(
      () => expect.fail('decrypted'),
      (error: unknown) => error,
    );

  it('gives the plaintext whatever the chunking, tiny chunks and chunks shorter than the tag included', async () => {
    for (const sizes of [[body.length], [65_536], [1], [15, 16, 17], [3, 70_000, 5]]) {
      const out = Buffer.alloc(plaintext.length);
      const ms = await decryptInto(chunked(body, sizes), metadata, masterKey, out);
      expect(out.equals(plaintext), `chunks of ${sizes}`).to.equal(true);
      expect(ms).to.be.a('number').and.at.least(0);
    }
  });

  it('refuses a flipped byte, a truncated body and a body longer than announced with decrypt_failed', async () => {
    const flipped = Buffer.from(body);
    flipped[500] = (flipped[500] as number) ^ 1;
    const cases: [string, Buffer, number][] = [
      ['flipped', flipped, plaintext.length],
      ['truncated', body.subarray(0, body.length - 1), plaintext.length],
      ['too short for its tag', body.subarray(0, 10), plaintext.length],
      ['longer than announced', body, plaintext.length - 1],
    ];
    for (const [name, stored, size] of cases) {
      const error = await failure(decryptInto(chunked(stored, [4096]), metadata, masterKey, Buffer.alloc(size)));
      expect(error, name).to.be.instanceOf(HttpError);
      expect((error as HttpError).code, name).to.equal('decrypt_failed');
    }
  });
});
