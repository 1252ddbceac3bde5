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
import { derivativeKey, parseDerivativeKey } from '../../src/core/keys.js';
import { canonicalize, canonicalQuery, decodeQuery, isParamError, parseParams } from '../../src/core/param-rules.js';
import {
  canonicalVariant,
  FIT_MODES,
  GRAVITIES,
  negotiateFormat,
  parseImageParams,
  REQUESTED_FORMATS,
  ruleConfig,
} from '../../src/core/params.js';

const config = createConfig();
const keyOf = (query: string, accept?: string) =>
  derivativeKey(
    'k.jpg',
    canonicalVariant(parseImageParams(query, config), negotiateFormat(accept, { ...config, autoAvif: false }), config),
  );

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

  describe('crop and effect parameters', () => {
    const rules = ruleConfig(config);
    const dec = (min: number, max: number, decimals: number) =>
      fc
        .integer({ min: Math.round(min * 10 ** decimals), max: Math.round(max * 10 ** decimals) })
        .map((n) => String(n / 10 ** decimals));
    const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${length}}$`));
    /** A valid raw value for each parameter (any spelling the rules allow). */
    const valid: Record<string, fc.Arbitrary<string>> = {
      width: fc.integer({ min: 1, max: 1000 }).map(String),
      height: fc.integer({ min: 1, max: 1000 }).map(String),
      quality: fc.integer({ min: 1, max: 100 }).map(String),
      fit: fc.constantFrom(...FIT_MODES),
      format: fc.constantFrom(...REQUESTED_FORMATS),
      dpr: dec(1, 4, 2),
      gravity: fc.constantFrom(...GRAVITIES),
      fx: dec(0, 1, 3),
      fy: dec(0, 1, 3),
      rect: fc
        .tuple(fc.nat(500), fc.nat(500), fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 500 }))
        .map((t) => t.join(',')),
      rotate: fc.constantFrom('0', '90', '180', '270'),
      flip: fc.constantFrom('h', 'v', 'hv'),
      blur: dec(0.3, 100, 1),
      sharpen: dec(0.5, 10, 1),
      bg: fc.oneof(hex(3), hex(4), hex(6), hex(8)),
      trim: fc.integer({ min: 1, max: 100 }).map(String),
    };
    /** Invalid raw values for each parameter. */
    const invalid: Record<string, string[]> = {
      width: ['0', '4097', '-1', '1.5', 'abc', '', '1e3'],
      height: ['0', '99999999999', 'x'],
      quality: ['0', '101', '8.5'],
      fit: ['crop', 'COVER', ''],
      format: ['gif', 'jpg'],
      dpr: ['0.5', '5', '1.234', 'two'],
      gravity: ['middle', 'Top', 'north'],
      fx: ['1.5', '-0.1', '0.1234', 'x'],
      fy: ['2', '.', '0.0001'],
      rect: ['1,2,3', '1,2,0,4', '1,2,3,4,5', 'a,b,c,d', '-1,0,1,1'],
      rotate: ['45', '360', '-90'],
      flip: ['x', 'hh', 'vh'],
      blur: ['0', '0.2', '100.1', '1.25', 'x'],
      sharpen: ['0.4', '10.5', '1.55'],
      bg: ['ggg', '12345', '#fff', ''],
      trim: ['0', '101', '1.5'],
      preset: ['nope'],
    };
    const paramSet = fc
      .dictionary(fc.constantFrom(...Object.keys(valid)), fc.constant(null))
      .chain((names) =>
        fc.record(Object.fromEntries(Object.keys(names).map((name) => [name, valid[name] as fc.Arbitrary<string>]))),
      );
    const tryParse = (pairs: [string, string][]) => {
      try {
        return canonicalize(parseParams(pairs, rules), rules);
      } catch (error) {
        if (isParamError(error)) return undefined;
        throw error;
      }
    };

    it('canonicalization is idempotent: the canonical query parses to the same canonical form', () => {
      fc.assert(
        fc.property(paramSet, (set) => {
          const canonical = tryParse(Object.entries(set));
          fc.pre(canonical !== undefined);
          const again = canonicalize(parseParams(decodeQuery(canonicalQuery(canonical!, rules)), rules), rules);
          expect(again).to.deep.equal(canonical);
          expect(canonicalQuery(again, rules)).to.equal(canonicalQuery(canonical!, rules));
        }),
        { numRuns: 400 },
      );
    });

    it('permutations, default spellings (bg=fff, bg=FFFFFF, none) and junk give one key', () => {
      const defaults: [string, string][][] = [
        [],
        [['bg', 'fff']],
        [['bg', 'FFFFFF']],
        [['rotate', '0']],
        [['dpr', '1.00']],
      ];
      fc.assert(
        fc.property(paramSet, fc.nat(), fc.nat(defaults.length - 1), fc.boolean(), (set, seed, extra, junk) => {
          const pairs = Object.entries(set).filter(([name]) => name !== 'bg' && name !== 'rotate' && name !== 'dpr');
          fc.pre(tryParse(pairs) !== undefined);
          const shuffled = [...pairs, ...(defaults[extra] as [string, string][])];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (seed + i * 7919) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as [string, string], shuffled[i] as [string, string]];
          }
          if (junk) shuffled.push(['utm_source', 'x']);
          const keyOfPairs = (p: [string, string][]) =>
            derivativeKey(
              'k.jpg',
              canonicalVariant(parseImageParams(p.map((x) => x.join('=')).join('&'), config), 'auto-webp', config),
            );
          expect(keyOfPairs(shuffled)).to.equal(keyOfPairs(pairs));
        }),
        { numRuns: 300 },
      );
    });

    it('a preset and its expansion give one key', () => {
      fc.assert(
        fc.property(paramSet, (set) => {
          const pairs = Object.entries(set);
          fc.pre(tryParse(pairs) !== undefined);
          const expansion = pairs.map((p) => p.join('=')).join('&');
          const withPreset = createConfig({ presets: { p: expansion } });
          const viaPreset = derivativeKey(
            'k.jpg',
            canonicalVariant(parseImageParams('preset=p', withPreset), 'original', withPreset),
          );
          const spelled = derivativeKey(
            'k.jpg',
            canonicalVariant(parseImageParams(expansion, withPreset), 'original', withPreset),
          );
          expect(viaPreset).to.equal(spelled);
        }),
        { numRuns: 200 },
      );
    });

    it('every invalid value of every parameter is a 400 invalid_param naming the parameter', () => {
      for (const [name, values] of Object.entries(invalid)) {
        for (const value of values) {
          const query = `${name}=${encodeURIComponent(value)}`;
          try {
            canonicalVariant(parseImageParams(query, config), 'original', config);
            expect.fail(`${query} was accepted`);
          } catch (error) {
            expect(error, query).to.be.instanceOf(HttpError);
            expect((error as HttpError).code).to.equal('invalid_param');
            expect((error as HttpError).status).to.equal(400);
            expect((error as HttpError).message, query).to.include(name);
          }
        }
      }
    });

    it('parseDerivativeKey inverts derivativeKey for every variant', () => {
      const formats = ['auto-avif', 'auto-webp', 'original', 'webp', 'avif', 'jpeg', 'png'] as const;
      fc.assert(
        fc.property(
          paramSet,
          fc.constantFrom(...formats),
          fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9._-]{1,8}){0,3}$/),
          (set, format, key) => {
            const canonical = tryParse(Object.entries(set));
            fc.pre(canonical !== undefined);
            const variant = canonicalVariant(
              parseParams(Object.entries(set), rules),
              format === 'auto-avif' || format === 'auto-webp' || format === 'original' ? format : false,
              config,
            );
            const derivative = derivativeKey(key, variant);
            const parsed = parseDerivativeKey(derivative);
            expect(parsed?.key).to.equal(key);
            expect(derivativeKey(parsed!.key, parsed!.variant)).to.equal(derivative);
            const defined = (v: object) => JSON.parse(JSON.stringify(v));
            expect(defined(parsed!.variant)).to.deep.equal(defined(variant));
          },
        ),
        { numRuns: 400 },
      );
    });
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
