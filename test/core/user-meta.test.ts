import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { MAX_META_ENTRIES, parseUserMeta, parseUserMetaObject } from '../../src/core/user-meta.js';

describe('core/user-meta', () => {
  it('keeps X-Meta-* headers, lower-cased without the prefix, values trimmed; ignores the rest', () => {
    expect(
      parseUserMeta({
        'x-meta-author': ' Jane ',
        'X-Meta-Photo.Id': '42',
        'content-type': 'image/jpeg',
        'x-metadata': 'no',
      }),
    ).to.deep.equal({ author: 'Jane', 'photo.id': '42' });
  });

  it('keeps names that are Object.prototype members as plain entries of a map without a prototype', () => {
    const meta = parseUserMeta({ 'x-meta-constructor': 'x', 'x-meta-hasownproperty': 'y', 'x-meta-tostring': 'z' });
    expect(Object.getPrototypeOf(meta)).to.equal(null);
    expect(Object.entries(meta)).to.deep.equal([
      ['constructor', 'x'],
      ['hasownproperty', 'y'],
      ['tostring', 'z'],
    ]);
  });

  it('holds the meta object of a JSON request to the same rules', () => {
    expect(Object.entries(parseUserMetaObject({ constructor: 'a', caption: ' b ' }))).to.deep.equal([
      ['constructor', 'a'],
      ['caption', 'b'],
    ]);
    for (const bad of [[], 'x', { __proto__x: 1 }, { a: 1 }, JSON.parse('{"__proto__":"x"}')]) {
      expect(() => parseUserMetaObject(bad))
        .to.throw(HttpError)
        .with.property('code', 'invalid_param');
    }
  });

  const bad: [string, Record<string, string>][] = [
    ['an empty name', { 'x-meta-': 'v' }],
    ['a name with a bad character', { 'x-meta-a!b': 'v' }],
    ['a name over 64 characters', { [`x-meta-${'a'.repeat(65)}`]: 'v' }],
    ['a non-ASCII value', { 'x-meta-a': 'caf\u00e9' }],
    ['a control character', { 'x-meta-a': 'a\u0001b' }],
    ['a value over 1024 characters', { 'x-meta-a': 'a'.repeat(1025) }],
    [
      'too many entries',
      Object.fromEntries(Array.from({ length: MAX_META_ENTRIES + 1 }, (_, i) => [`x-meta-k${i}`, 'v'])),
    ],
    ['over 8 KB in all', Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`x-meta-k${i}`, 'a'.repeat(1000)]))],
  ];
  for (const [name, headers] of bad) {
    it(`refuses ${name} with 400 invalid_param`, () => {
      expect(() => parseUserMeta(headers))
        .to.throw(HttpError)
        .with.property('code', 'invalid_param');
    });
  }
});
