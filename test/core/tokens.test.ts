import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { deriveTokenKey, openToken, sealToken } from '../../src/core/tokens.js';

describe('core/tokens', () => {
  const key = deriveTokenKey(Buffer.alloc(32, 1));
  // Far ahead: mocha loads every file before running any, minutes may pass.
  const exp = Math.floor(Date.now() / 1000) + 10 * 365 * 86_400;

  it('seals and opens {key, version, id, exp}, and another master key cannot open it', () => {
    const token = { key: 'a/b.jpg', version: 3, id: 'abc123def456', exp };
    expect(openToken(sealToken(token, key), key)).to.deep.equal(token);
    expect(() => openToken(sealToken(token, key), deriveTokenKey(Buffer.alloc(32, 2))))
      .to.throw(HttpError)
      .with.property('code', 'forbidden');
  });

  it('refuses a token that names no version identity, or a malformed one, as forbidden', () => {
    for (const shape of [
      { key: 'a.jpg', exp },
      { key: 'a.jpg', version: 1, exp },
      { key: 'a.jpg', version: 1, id: '', exp },
      { key: 'a.jpg', version: 1.5, id: 'x', exp },
      { key: 'a.jpg', version: '1', id: 'x', exp },
    ]) {
      expect(() => openToken(sealToken(shape as never, key), key), JSON.stringify(shape))
        .to.throw(HttpError)
        .with.property('code', 'forbidden');
    }
    expect(() => openToken(sealToken(null as never, key), key))
      .to.throw(HttpError)
      .with.property('code', 'forbidden');
  });

  it('answers expired once exp has passed', () => {
    const text = sealToken({ key: 'a.jpg', version: 1, id: 'x', exp: 100 }, key);
    expect(() => openToken(text, key, 101))
      .to.throw(HttpError)
      .with.property('code', 'expired');
  });
});
