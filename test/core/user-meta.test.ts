import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { MAX_META_ENTRIES, parseUserMeta } from '../../src/core/user-meta.js';

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
