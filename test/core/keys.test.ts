import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { parseImageKey } from '../../src/core/keys.js';

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
});
