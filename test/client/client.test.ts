/**
 * `edge-resizer/client` against the edge's own rules: URLs built by
 * `imageUrl` parse with the viewer's parser to the values given, `signUrl`
 * (WebCrypto) writes the bytes of the core signer and the viewer function
 * accepts them. The packed module is tested in `package.test.ts`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { imageUrl, PARAM_ORDER, signUrl, sizes, snapWidth, srcset } from '../../src/client/index.js';
import edgeResizerLoader, { createLoader } from '../../src/client/next.js';
import { createConfig } from '../../src/core/config.js';
import { canonicalize, decodeQuery, parseParams } from '../../src/core/param-rules.js';
import { IMAGE_PARAM_NAMES, PARAMS, type ParamDescriptor } from '../../src/core/params/registry.js';
import type { ImageParams } from '../../src/core/params/types.js';
import { ruleConfig } from '../../src/core/params.js';
import { signUrl as coreSignUrl } from '../../src/core/signing.js';
import { viewerConfig } from '../../src/edge/viewer/config.js';
import { isViewerResponse, loadViewerFunction, viewerEvent } from '../../src/local/viewer-function.js';

const config = createConfig();
const rules = ruleConfig(config);
const SECRET = 'client-secret-☃';

/** Decimal values with at most `decimals` decimals in [lowest, highest]. */
function decimalArb(lowest: number, highest: number, decimals: number) {
  const scale = 10 ** decimals;
  return fc
    .integer({ min: Math.ceil(lowest * scale), max: Math.floor(highest * scale) })
    .map((n) => Number((n / scale).toFixed(decimals)));
}

/** A valid value of any descriptor, so a parameter added to the registry is covered here unchanged. */
function valueArb(param: ParamDescriptor): fc.Arbitrary<unknown> {
  switch (param.kind) {
    case 'integer':
      return fc.integer({
        min: param.lowest,
        max: param.highest === 'maxDimension' ? config.limits.maxDimension : param.highest,
      });
    case 'decimal':
      return decimalArb(param.lowest, param.highest, param.decimals);
    case 'choice':
      return fc.constantFrom(...param.choices);
    case 'colour':
      return fc.stringMatching(/^[0-9a-f]{8}$/);
    case 'rect':
      return fc.record({
        x: fc.integer({ min: 0, max: 500 }),
        y: fc.integer({ min: 0, max: 500 }),
        width: fc.integer({ min: 1, max: 500 }),
        height: fc.integer({ min: 1, max: 500 }),
      });
    case 'preset':
      return fc.constant(undefined);
  }
}

const paramsArb: fc.Arbitrary<ImageParams> = fc
  .record(Object.fromEntries((PARAMS as readonly ParamDescriptor[]).map((param) => [param.name, valueArb(param)])), {
    requiredKeys: [],
  })
  .map((params) => {
    const out = { ...params } as Record<string, unknown>;
    for (const name of Object.keys(out)) if (out[name] === undefined) delete out[name];
    // fx/fy with another gravity ask for two crops: a 400 by rule, not a URL to build.
    if ((out.fx !== undefined || out.fy !== undefined) && out.gravity !== undefined) out.gravity = 'focal';
    return out as ImageParams;
  });

/** Keys as uploads name them: any printable characters, `/`-separated segments. */
const keyArb = fc
  .array(fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_.~+%&=?#é☃'.split('')), minLength: 1, maxLength: 8 }), {
    minLength: 1,
    maxLength: 3,
  })
  .map((segments) => segments.join('/'))
  .filter((key) => !key.split('/').some((segment) => segment === '.' || segment === '..'));

function split(url: string) {
  const path = url.replace(/^https?:\/\/[^/]+/, '');
  const q = path.indexOf('?');
  return { path: q === -1 ? path : path.slice(0, q), query: q === -1 ? '' : path.slice(q + 1) };
}

describe('edge-resizer/client', () => {
  it('lists the registry parameters in its canonical order', () => {
    expect([...PARAM_ORDER]).to.deep.equal([...IMAGE_PARAM_NAMES]);
  });

  it('builds URLs the edge parses to the same parameters (any registry values)', () => {
    fc.assert(
      fc.property(paramsArb, (params) => {
        const { query } = split(imageUrl('https://cdn.example.com', 'a.jpg', params));
        expect(parseParams(decodeQuery(query), rules)).to.deep.equal(params);
      }),
      { numRuns: 300 },
    );
  });

  it('writes any key as a path the viewer function reads back as that key', () => {
    const viewer = loadViewerFunction(viewerConfig(config, null));
    fc.assert(
      fc.property(keyArb, (key) => {
        const { path, query } = split(imageUrl('https://cdn.example.com/', key, { width: 40 }));
        const result = viewer(
          viewerEvent('GET', path, query, { accept: '*/*', host: 'cdn.example.com' }, '203.0.113.7'),
        );
        if (isViewerResponse(result)) expect.fail(`${path} answered ${result.statusCode}`);
        expect(decodeURIComponent(result.uri)).to.equal(`/${key}`);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves out absent parameters and keeps a base path', () => {
    expect(imageUrl('/images/', '/photos/cat.jpg')).to.equal('/images/photos/cat.jpg');
    expect(
      imageUrl('https://cdn.example.com', 'a b.jpg', {
        format: 'webp',
        width: 400,
        rect: { x: 1, y: 2, width: 3, height: 4 },
      }),
    ).to.equal('https://cdn.example.com/a%20b.jpg?width=400&format=webp&rect=1%2C2%2C3%2C4');
  });

  it('snaps widths up to the next allowed one, capped at the largest, as widthPolicy snap', () => {
    const allowed = [640, 320, 1280];
    expect([1, 320, 321, 640, 641, 1280, 5000].map((w) => snapWidth(w, allowed))).to.deep.equal([
      320, 320, 640, 640, 1280, 1280, 1280,
    ]);
    expect(snapWidth(333)).to.equal(333);
    const cdn = 'https://cdn.example.com/a.jpg';
    expect(
      srcset('https://cdn.example.com', 'a.jpg', [300, 700, 600, 2000], { format: 'auto' }, { allowedWidths: allowed }),
    ).to.equal(
      `${cdn}?width=320&format=auto 320w, ${cdn}?width=640&format=auto 640w, ${cdn}?width=1280&format=auto 1280w`,
    );
    expect(sizes([{ maxWidth: '640px', size: '100vw' }], '50vw')).to.equal('(max-width: 640px) 100vw, 50vw');
  });

  it("snaps as the edge's widthPolicy snap does (any width, any allowed widths)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 6 }),
        (width, allowed) => {
          const snapRules = {
            ...rules,
            allowedWidths: [...allowed].sort((a, b) => a - b),
            widthPolicy: 'snap' as const,
          };
          const edge = canonicalize(parseParams([['width', String(width)]], snapRules), snapRules).width;
          expect(snapWidth(width, allowed)).to.equal(edge);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('signs the bytes the core signer writes (any URL, kid, expiry)', async () => {
    const urlArb = fc
      .tuple(
        keyArb,
        paramsArb,
        fc.array(fc.tuple(fc.constantFrom('utm', 'q', 'é', 'a b'), fc.string()), { maxLength: 2 }),
      )
      .map(([key, params, extra]) => {
        const url = imageUrl('https://cdn.example.com', key, params);
        const tail = extra.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
        return tail ? `${url}${url.includes('?') ? '&' : '?'}${tail}` : url;
      })
      .filter((url) => {
        const names = [...new URL(url).searchParams.keys()];
        return new Set(names).size === names.length;
      });
    const now = 1_900_000_000;
    await fc.assert(
      fc.asyncProperty(
        urlArb,
        fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), { nil: undefined }),
        fc.constantFrom('30s', '15m', '1h', '7d', '2000000000'),
        fc.boolean(),
        async (url, kid, expires, relative) => {
          const target = relative ? split(url).path + (split(url).query ? `?${split(url).query}` : '') : url;
          const ours = await signUrl(target, { secret: SECRET, kid, expires, now });
          expect(ours).to.equal(coreSignUrl(target, SECRET, expires, now, kid));
        },
      ),
      { numRuns: 200 },
    );
    // A unix time given as a number is the same expiry as its digits.
    expect(await signUrl('/a.jpg?width=1', { secret: SECRET, expires: 2_000_000_000, now })).to.equal(
      coreSignUrl('/a.jpg?width=1', SECRET, '2000000000', now),
    );
  });

  it('signs URLs the viewer function accepts, and a changed one it refuses', async () => {
    const viewer = loadViewerFunction({ ...viewerConfig(config, null), signingSecret: SECRET });
    const open = loadViewerFunction(viewerConfig(config, null));
    const run = (url: string, fn = viewer) => {
      const { path, query } = split(url);
      return fn(viewerEvent('GET', path, query, { accept: '*/*', host: 'cdn.example.com' }, '203.0.113.7'));
    };
    await fc.assert(
      fc.asyncProperty(keyArb, paramsArb, async (key, params) => {
        const signed = await signUrl(imageUrl('https://cdn.example.com', key, params), {
          secret: SECRET,
          expires: '1h',
        });
        const result = run(signed);
        // The signature is checked first; a value the stage's rules refuse (height × dpr over the
        // limit) is a 400 after it, so only 403 means the signature failed.
        if (isViewerResponse(result)) expect(result.statusCode, signed).to.equal(400);
        const plain = run(imageUrl('https://cdn.example.com', key, params), open);
        expect(isViewerResponse(result) ? result.statusCode : 200).to.equal(
          isViewerResponse(plain) ? plain.statusCode : 200,
        );
        const tampered = run(`${signed}&zz=1`);
        expect(isViewerResponse(tampered) && tampered.statusCode).to.equal(403);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses an expiry that is not in the future or not a time', async () => {
    for (const expires of ['0s', 1_000, '1y', '', 1.5]) {
      let error: unknown;
      await signUrl('/a.jpg', { secret: SECRET, expires, now: 1_900_000_000 }).catch((e) => {
        error = e;
      });
      expect(error, String(expires)).to.be.instanceOf(Error);
    }
  });
});

describe('edge-resizer/next', () => {
  it("maps next/image's width and quality to an allowed width and our quality", () => {
    const loader = createLoader({ base: 'https://cdn.example.com', allowedWidths: [320, 640, 1280] });
    expect(loader({ src: '/photos/cat.jpg', width: 750, quality: 75 })).to.equal(
      'https://cdn.example.com/photos/cat.jpg?width=1280&quality=75&format=auto',
    );
    expect(loader({ src: 'photos/cat.jpg', width: 3840 })).to.equal(
      'https://cdn.example.com/photos/cat.jpg?width=1280&format=auto',
    );
    expect(loader({ src: 'https://elsewhere.example/a.png', width: 100 })).to.equal('https://elsewhere.example/a.png');
  });

  it('reads the CDN and its widths from NEXT_PUBLIC_ variables, and says when the URL is missing', () => {
    const saved = { ...process.env };
    try {
      delete process.env.NEXT_PUBLIC_EDGE_RESIZER_URL;
      expect(() => edgeResizerLoader({ src: 'a.jpg', width: 10 })).to.throw(/NEXT_PUBLIC_EDGE_RESIZER_URL/);
      process.env.NEXT_PUBLIC_EDGE_RESIZER_URL = 'http://127.0.0.1:3000';
      process.env.NEXT_PUBLIC_EDGE_RESIZER_WIDTHS = '256, 512';
      expect(edgeResizerLoader({ src: 'a.jpg', width: 300, quality: 50 })).to.equal(
        'http://127.0.0.1:3000/a.jpg?width=512&quality=50&format=auto',
      );
    } finally {
      process.env = saved;
    }
  });
});
