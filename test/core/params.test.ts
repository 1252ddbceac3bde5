import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { HttpError } from '../../src/core/errors.js';
import { derivativeKey, parseDerivativeKey } from '../../src/core/keys.js';
import { acceptsWebp, canonicalVariant, parseImageParams } from '../../src/core/params.js';

const config = createConfig();
const keyFor = (query: string, accept?: string, cfg = config) =>
  derivativeKey('photos/cat.jpg', canonicalVariant(parseImageParams(query, cfg), acceptsWebp(accept), cfg));

function expectError(fn: () => unknown, code: string, message?: RegExp): HttpError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(HttpError);
    expect((error as HttpError).code).to.equal(code);
    if (message) expect((error as HttpError).message).to.match(message);
    return error as HttpError;
  }
  expect.fail(`expected a ${code} error`);
}

describe('core/params', () => {
  describe('canonical keys', () => {
    it('writes every output-affecting value into the key', () => {
      expect(keyFor('width=400&height=300', 'image/webp')).to.equal('photos/cat.jpg/w400-h300-q80-cover.webp');
    });

    it('gives one key for any parameter order and for defaults written out or left off', () => {
      const variants = [
        'width=400&height=300',
        'height=300&width=400',
        'width=400&height=300&quality=80&fit=cover&format=auto&dpr=1',
        'dpr=1&fit=cover&width=400&quality=80&height=300',
        'width=400&height=300&utm_source=newsletter',
      ];
      const keys = new Set(variants.map((q) => keyFor(q, 'image/webp,*/*')));
      expect([...keys]).to.deep.equal(['photos/cat.jpg/w400-h300-q80-cover.webp']);
    });

    it('folds dpr into pixels', () => {
      expect(keyFor('width=200&dpr=2')).to.equal(keyFor('width=400'));
      expect(keyFor('width=333&dpr=1.5')).to.equal(keyFor('width=500'));
    });

    it('folds fit when fewer than two dimensions are given, since the aspect ratio is kept anyway', () => {
      expect(keyFor('width=400&fit=contain')).to.equal(keyFor('width=400'));
      expect(keyFor('width=400&height=300&fit=contain')).to.not.equal(keyFor('width=400&height=300'));
    });

    it('maps Accept headers that negotiate the same format to one key', () => {
      const chrome = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
      const firefox = 'image/avif,image/webp,*/*';
      expect(keyFor('width=400', chrome)).to.equal(keyFor('width=400', firefox));
      expect(keyFor('width=400', chrome)).to.match(/\.webp$/);
      const old = ['*/*', 'image/png,image/*;q=0.8,*/*;q=0.5', undefined, 'image/webp;q=0'];
      expect(new Set(old.map((a) => keyFor('width=400', a))).size).to.equal(1);
      expect(keyFor('width=400', '*/*')).to.match(/\.original$/);
    });

    it('uses AVIF only when asked for, whatever Accept says', () => {
      expect(keyFor('width=400', 'image/avif,image/webp')).to.match(/\.webp$/);
      expect(keyFor('width=400&format=avif', '*/*')).to.match(/\.avif$/);
    });

    it('ignores quality for PNG output, which is lossless', () => {
      expect(keyFor('format=png&quality=30')).to.equal(keyFor('format=png'));
    });

    it('round-trips through parseDerivativeKey', () => {
      for (const q of ['width=400&height=300&fit=contain&format=jpeg&quality=55', 'height=20', '', 'format=avif']) {
        const key = keyFor(q, 'image/webp');
        const parsed = parseDerivativeKey(key);
        expect(parsed?.key).to.equal('photos/cat.jpg');
        expect(derivativeKey(parsed!.key, parsed!.variant)).to.equal(key);
      }
    });
  });

  describe('validation', () => {
    const bad: [string, RegExp][] = [
      ['width=abc', /Expected integer between 1 and 4096 for width but received 'abc'/],
      ['width=0', /width/],
      ['width=4097', /4096/],
      ['width=-5', /width/],
      ['width=1.5', /width/],
      ['width=1e3', /width/],
      ['width=', /width/],
      ['height=99999999999999', /height/],
      ['quality=0', /quality/],
      ['quality=101', /quality/],
      ['fit=crop', /one of cover, contain, fill, inside, outside for fit/],
      ['format=gif', /format/],
      ['dpr=0.5', /dpr/],
      ['dpr=5', /dpr/],
      ['dpr=1.234', /dpr/],
      ['width=3000&dpr=2', /at most 4096/],
      ['width=100&width=200', /more than once/],
    ];
    for (const [query, message] of bad) {
      it(`rejects ${query} with 400 invalid_param`, () => {
        const error = expectError(() => keyFor(query), 'invalid_param', message);
        expect(error.status).to.equal(400);
      });
    }
  });

  describe('width allow-list', () => {
    it('rejects other widths naming the allowed ones', () => {
      const cfg = createConfig({ allowedWidths: [800, 200, 400], widthPolicy: 'reject' });
      expect(keyFor('width=400', undefined, cfg)).to.match(/w400-/);
      expectError(() => keyFor('width=401', undefined, cfg), 'invalid_param', /200, 400, 800/);
    });

    it('snaps up to the next allowed width, capped at the largest', () => {
      const cfg = createConfig({ allowedWidths: [200, 400, 800], widthPolicy: 'snap' });
      expect(keyFor('width=201', undefined, cfg)).to.equal(keyFor('width=400', undefined, cfg));
      expect(keyFor('width=150&dpr=2', undefined, cfg)).to.equal(keyFor('width=400', undefined, cfg));
      expect(keyFor('width=1000', undefined, cfg)).to.match(/w800-/);
    });
  });
});
