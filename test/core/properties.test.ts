/**
 * Property-based tests (fast-check): canonicalization maps every spelling of
 * one variant to one key and distinct variants to distinct keys; the envelope
 * round-trips any bytes and refuses any single flipped byte.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createConfig } from '../../src/core/config.js';
import { decryptBuffer, encryptBuffer } from '../../src/core/envelope.js';
import { HttpError } from '../../src/core/errors.js';
import { derivativeKey } from '../../src/core/keys.js';
import {
  acceptsWebp,
  canonicalVariant,
  FIT_MODES,
  parseImageParams,
  REQUESTED_FORMATS,
} from '../../src/core/params.js';

const config = createConfig();
const keyOf = (query: string, accept?: string) =>
  derivativeKey('k.jpg', canonicalVariant(parseImageParams(query, config), acceptsWebp(accept), config));

/** A variant as the values that matter after canonicalization. */
const variantArb = fc.record({
  width: fc.option(fc.integer({ min: 1, max: 2048 }), { nil: undefined }),
  height: fc.option(fc.integer({ min: 1, max: 2048 }), { nil: undefined }),
  quality: fc.integer({ min: 1, max: 100 }),
  fit: fc.constantFrom(...FIT_MODES),
  format: fc.constantFrom(...REQUESTED_FORMATS),
});
type VariantValues = typeof variantArb extends fc.Arbitrary<infer T> ? T : never;

/** One spelling of a variant: any order, defaults written or not, dpr=2 folded, junk params. */
function spell(
  v: VariantValues,
  choices: { order: number[]; writeDefaults: boolean; useDpr: boolean; junk: boolean },
): string {
  const pairs: [string, string][] = [];
  const evenDims = v.width !== undefined && v.width % 2 === 0 && (v.height === undefined || v.height % 2 === 0);
  const dpr = choices.useDpr && evenDims ? 2 : 1;
  if (v.width !== undefined) pairs.push(['width', String(v.width / dpr)]);
  if (v.height !== undefined) pairs.push(['height', String(v.height / dpr)]);
  if (dpr === 2) pairs.push(['dpr', '2']);
  else if (choices.writeDefaults) pairs.push(['dpr', '1']);
  if (v.quality !== 80 || choices.writeDefaults) pairs.push(['quality', String(v.quality)]);
  if (v.fit !== 'cover' || choices.writeDefaults) pairs.push(['fit', v.fit]);
  if (v.format !== 'auto' || choices.writeDefaults) pairs.push(['format', v.format]);
  if (choices.junk) pairs.push(['utm_source', 'x']);
  const ordered = choices.order
    .map((i) => pairs[i % pairs.length])
    .filter((p, i, all): p is [string, string] => p !== undefined && all.indexOf(p) === i);
  const rest = pairs.filter((p) => !ordered.includes(p));
  return [...ordered, ...rest].map(([n, val]) => `${n}=${val}`).join('&');
}

const spellingArb = fc.record({
  order: fc.array(fc.nat(10), { maxLength: 8 }),
  writeDefaults: fc.boolean(),
  useDpr: fc.boolean(),
  junk: fc.boolean(),
});

/** What actually shapes the output, for the "distinct variants" side. */
function effective(v: VariantValues, webp: boolean) {
  const both = v.width !== undefined && v.height !== undefined;
  const format = v.format === 'auto' ? (webp ? 'webp' : 'original') : v.format;
  return JSON.stringify([v.width, v.height, format === 'png' ? 80 : v.quality, both ? v.fit : 'cover', format]);
}

describe('properties', () => {
  it('every spelling of one variant gives one derivative key', () => {
    fc.assert(
      fc.property(variantArb, spellingArb, spellingArb, fc.boolean(), (v, a, b, webp) => {
        const accept = webp ? 'image/avif,image/webp,*/*' : 'image/png,*/*;q=0.8';
        expect(keyOf(spell(v, a), accept)).to.equal(keyOf(spell(v, b), webp ? 'image/webp' : undefined));
      }),
      { numRuns: 500 },
    );
  });

  it('distinct variants give distinct derivative keys', () => {
    fc.assert(
      fc.property(variantArb, variantArb, fc.boolean(), (v, w, webp) => {
        fc.pre(effective(v, webp) !== effective(w, webp));
        const accept = webp ? 'image/webp' : '*/*';
        const none = { order: [], writeDefaults: false, useDpr: false, junk: false };
        expect(keyOf(spell(v, none), accept)).to.not.equal(keyOf(spell(w, none), accept));
      }),
      { numRuns: 500 },
    );
  });

  it('the envelope round-trips any bytes', () => {
    const masterKey = Buffer.alloc(32, 7);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const plaintext = Buffer.from(bytes);
        const { body, metadata } = encryptBuffer(plaintext, masterKey);
        expect(decryptBuffer(body, metadata, masterKey).equals(plaintext)).to.equal(true);
      }),
      { numRuns: 200 },
    );
  });

  it('any single flipped byte of the stored body fails with decrypt_failed', () => {
    const masterKey = Buffer.alloc(32, 9);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 2048 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, mask) => {
          const { body, metadata } = encryptBuffer(Buffer.from(bytes), masterKey);
          const index = at % body.length;
          body[index] = (body[index] as number) ^ mask;
          try {
            decryptBuffer(body, metadata, masterKey);
            return false;
          } catch (error) {
            return error instanceof HttpError && error.code === 'decrypt_failed';
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
