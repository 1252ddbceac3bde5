import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { derivativeKey, parseDerivativeKey, parseImageKey } from '../../src/core/keys.js';

describe('core/keys', () => {
  it('accepts keys of the allowed characters and decodes percent-encoding once', () => {
    expect(parseImageKey('photos/cat.jpg')).to.equal('photos/cat.jpg');
    expect(parseImageKey('a/B-c_d.9/e.png')).to.equal('a/B-c_d.9/e.png');
    expect(parseImageKey('photos%2Fcat.jpg')).to.equal('photos/cat.jpg');
  });

  const bad = [
    '',
    '/a.jpg',
    'a//b.jpg',
    'a/./b.jpg',
    'a/../b.jpg',
    '..',
    '%2e%2e/secret',
    '%252e%252e/x',
    'photos/ca t.jpg',
    'photos/caf%C3%A9.jpg',
    'photos/%00.jpg',
    'photos/%zz.jpg',
    'api/images',
    'originals/abc',
    '_assets/app.js',
    `${'a'.repeat(509)}.jpg`,
    'a/b.jpg/',
  ];
  for (const key of bad) {
    it(`refuses ${JSON.stringify(key.length > 40 ? `${key.slice(0, 20)}…` : key)} with 400 invalid_key`, () => {
      let caught: unknown;
      try {
        parseImageKey(key);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(HttpError);
      expect((caught as HttpError).code).to.equal('invalid_key');
      expect((caught as HttpError).status).to.equal(400);
    });
  }

  describe('derivative keys', () => {
    it('parses back only the one spelling derivativeKey writes', () => {
      const good = [
        'photos/cat.jpg/w400-h300-q80-cover.webp',
        'photos/cat.jpg/wauto-hauto-q80-cover.original',
        'a/b.png/w400-h300-q80-cover-rect10_20_300_200-trim10-rot90-fliph-gtopleft-blur2.5-sharpen1.5-bgff000080.auto-avif',
        'a/b.png/w400-h300-q80-contain-fp0.3_0.625.format-webp',
      ];
      for (const key of good) {
        const parsed = parseDerivativeKey(key);
        expect(parsed, key).to.not.equal(undefined);
        expect(derivativeKey(parsed!.key, parsed!.variant)).to.equal(key);
      }
      const bad = [
        'photos/cat.jpg/w0400-h300-q80-cover.webp',
        'photos/cat.jpg/w400-h300-q80-crop.webp',
        'photos/cat.jpg/w400-h300-q80-cover.gif',
        'photos/cat.jpg/w400-h300-q80-cover-blur2.5-trim10.webp',
        'photos/cat.jpg/w400-h300-q80-cover-gfocal.webp',
        'photos/cat.jpg/w400-h300-q80-cover-rot45.webp',
        'photos/cat.jpg/w400-h300-q80-cover-bgfff.webp',
        'w400-h300-q80-cover.webp',
      ];
      for (const key of bad) expect(parseDerivativeKey(key), key).to.equal(undefined);
    });
  });
});
