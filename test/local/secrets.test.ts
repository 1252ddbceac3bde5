import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseSigningKeys, signingKeysReader } from '../../src/local/secrets.js';

describe('local/secrets: the signing keys file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-secrets-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const good = { keys: { k1: { secret: 's1', created: '2026-12-08T00:00:00Z' } } };

  it('checks the shape, naming what is wrong and never a secret', () => {
    expect(parseSigningKeys(JSON.stringify(good)).k1).to.deep.equal(good.keys.k1);
    for (const [text, reason] of [
      ['{"keys": ', /not JSON/],
      ['[]', /no "keys" object/],
      ['{"keys": [1]}', /no "keys" object/],
      ['{"keys": {"k1": {"secret": 5, "created": "x"}}}', /the key "k1" needs/],
      ['{"keys": {"k1": {"secret": "hush", "created": "x", "retired": 1}}}', /the key "k1" needs/],
    ] as const) {
      expect(() => parseSigningKeys(text), text).to.throw(reason);
      try {
        parseSigningKeys(text);
      } catch (error) {
        expect((error as Error).message).to.not.include('hush');
      }
    }
  });

  it('re-reads on change; a broken file keeps the last good keys and is reported once, naming the file', async () => {
    const file = join(dir, 'signing-keys.json');
    const reports: string[] = [];
    const read = signingKeysReader(file, (message) => reports.push(message));
    expect(read()).to.deep.equal({});
    await writeFile(file, JSON.stringify(good));
    expect(read()).to.have.property('k1');
    await writeFile(file, '{"keys": {"k1": ');
    expect(read(), 'the last good keys').to.have.property('k1');
    expect(read()).to.have.property('k1');
    expect(reports).to.have.length(1);
    expect(reports[0])
      .to.include(file)
      .and.match(/not a signing keys file.*keeping the keys read before/);
  });

  it('a file never read whole answers no key at all (no fallback to SIGNING_SECRET)', async () => {
    const file = join(dir, 'never-good.json');
    await writeFile(file, 'nope');
    const reports: string[] = [];
    expect(signingKeysReader(file, (message) => reports.push(message))()).to.equal('unreadable');
    expect(reports[0])
      .to.include(file)
      .and.match(/every signed URL is refused/);
  });
});
