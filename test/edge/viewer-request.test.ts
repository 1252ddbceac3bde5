import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, runInContext, Script } from 'node:vm';
import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { signUrl } from '../../src/core/signing.js';
import { buildViewerFunction, MAX_FUNCTION_BYTES } from '../../src/edge/viewer/build.js';
import { viewerConfig } from '../../src/edge/viewer/config.js';
import {
  isViewerResponse,
  loadViewerFunction,
  toQueryString,
  type ViewerConfig,
  type ViewerResponse,
  viewerEvent,
} from '../../src/local/viewer-function.js';

const base: ViewerConfig = viewerConfig(createConfig(), null);
const SECRET = 'test-secret-☃';
let worstCase: ViewerConfig = base;
const stagesWorstCase = () => worstCase;

function run(config: Partial<ViewerConfig>, url: string, accept = '*/*') {
  const fn = loadViewerFunction({ ...base, ...config });
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  return fn(viewerEvent('GET', path, query, { accept, host: 'cdn.example.com' }, '203.0.113.7'));
}

function request(config: Partial<ViewerConfig>, url: string, accept?: string) {
  const result = run(config, url, accept);
  if (isViewerResponse(result)) expect.fail(`${url} was answered ${result.statusCode}: ${JSON.stringify(result.body)}`);
  return result;
}

/** The cache key the deployed policy takes: path, query as left, Accept as left. */
function cacheKey(config: Partial<ViewerConfig>, url: string, accept?: string) {
  const result = request(config, url, accept);
  return `${result.uri}?${toQueryString(result.querystring)}|${result.headers.accept?.value}`;
}

function expectError(result: ReturnType<typeof run>, status: number, code: string, message?: RegExp) {
  expect(isViewerResponse(result), 'a generated response').to.equal(true);
  const response = result as ViewerResponse;
  expect(response.statusCode).to.equal(status);
  expect(response.headers?.['content-type']?.value).to.equal('application/json');
  expect(response.headers?.['cache-control']?.value).to.equal('no-store');
  const body = typeof response.body === 'object' ? JSON.parse(response.body.data) : undefined;
  expect(body).to.include({ status, code });
  if (message) expect(body.message).to.match(message);
}

describe('edge/viewer-request (CloudFront Function)', () => {
  describe('the generated bundle', () => {
    const stages: [string, ViewerConfig][] = [
      ['default', base],
      [
        'signed, with presets and an allow-list',
        viewerConfig(
          createConfig({
            presets: {
              card: 'width=640&height=360&gravity=attention',
              thumb: 'width=160&height=160&fit=cover&sharpen=1',
              hero: 'width=1600&height=600&fx=0.5&fy=0.3&quality=70',
            },
            allowedWidths: [64, 128, 256, 320, 480, 640, 750, 828, 1080, 1200, 1920, 2048, 3840],
            widthPolicy: 'snap',
          }),
          'a-production-secret-of-some-length-0123456789',
        ),
      ],
    ];
    worstCase = (stages[1] as [string, ViewerConfig])[1];
    for (const [name, config] of stages) {
      it(`is under CloudFront Functions' 10 KB (${name} stage) and loads in a VM with only crypto`, () => {
        const code = buildViewerFunction(config);
        const bytes = Buffer.byteLength(code);
        console.log(`      viewer function (${name}): ${bytes} bytes of ${MAX_FUNCTION_BYTES}`);
        expect(bytes).to.be.below(MAX_FUNCTION_BYTES);
        expect(() => new Script(code)).not.to.throw();
        const required: string[] = [];
        const sandbox = createContext({
          require: (module: string) => {
            required.push(module);
            if (module !== 'crypto') throw new Error(`no module ${module}`);
            return require('node:crypto');
          },
        });
        runInContext(code, sandbox);
        expect(typeof (sandbox as { handler?: unknown }).handler).to.equal('function');
        expect(required).to.deep.equal(['crypto']);
        // Only what CloudFront Functions' runtime 2.0 parses: no classes, spread, destructuring, ?. or ??.
        expect(code).not.to.match(/\?\.|\?\?|\bclass\s|\.\.\.[a-zA-Z_$[]/);
      });
    }
  });

  it('gives each call a copy of its event unless the caller hands over events of its own', () => {
    const event = () =>
      viewerEvent('GET', '/a%2Fb.jpg', 'w=10&format=webp', { accept: '*/*', host: 'cdn.example.com' }, '203.0.113.7');
    const copying = loadViewerFunction(base);
    const given = event();
    const copied = copying(given);
    if (isViewerResponse(copied)) expect.fail('answered');
    expect(copied).to.not.equal(given.request);
    expect(given.request.uri, 'the caller keeps its event as it was').to.equal('/a%2Fb.jpg');
    expect(Object.keys(given.request.querystring)).to.deep.equal(['w', 'format']);
    const owning = loadViewerFunction(base, { ownEvents: true });
    const handed = event();
    const changed = owning(handed);
    if (isViewerResponse(changed)) expect.fail('answered');
    expect(changed).to.equal(handed.request);
    // The same canonical request either way.
    expect(changed.uri).to.equal(copied.uri);
    expect(toQueryString(changed.querystring)).to.equal(toQueryString(copied.querystring));
    expect(changed.headers.accept).to.deep.equal(copied.headers.accept);
  });

  it('normalizes Accept to one value per negotiated format, from real browsers', () => {
    const cases: [string, string, string][] = [
      ['Chrome 120', 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'image/avif'],
      ['Firefox 121', 'image/avif,image/webp,*/*', 'image/avif'],
      [
        'Safari 17',
        'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
        'image/avif',
      ],
      ['Chrome 70 (WebP only)', 'image/webp,image/apng,image/*,*/*;q=0.8', 'image/webp'],
      ['Safari 13', 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', '*/*'],
      ['curl', '*/*', '*/*'],
      ['refuses webp', 'image/webp;q=0', '*/*'],
      ['none', '', '*/*'],
    ];
    for (const [browser, accept, normalized] of cases) {
      expect(request({}, '/a.jpg?width=10', accept).headers.accept?.value, browser).to.equal(normalized);
    }
    const noAvif = request({ autoAvif: false }, '/a.jpg?width=10', cases[0]?.[1]);
    expect(noAvif.headers.accept?.value).to.equal('image/webp');
    // An explicit format does not depend on Accept: one cache entry for every browser.
    expect(request({}, '/a.jpg?format=jpeg', cases[0]?.[1]).headers.accept?.value).to.equal('*/*');
  });

  it('keeps only the image params, in a fixed order, with defaults dropped', () => {
    const a = request({}, '/a.jpg?utm_source=x&height=30&width=40&quality=80&fit=cover&format=auto&dpr=1&cb=123');
    const b = request({}, '/a.jpg?width=40&height=30');
    expect(toQueryString(a.querystring)).to.equal('width=40&height=30');
    expect(toQueryString(b.querystring)).to.equal('width=40&height=30');
    const c = request({}, '/a.jpg?quality=60&fit=contain&format=webp&dpr=2&width=10&height=5');
    expect(toQueryString(c.querystring)).to.equal('width=20&height=10&quality=60&fit=contain&format=webp');
  });

  it("strips fit only when it is the stage's defaultFit", () => {
    const contain = { defaultFit: 'contain' as const };
    expect(toQueryString(request(contain, '/a.jpg?width=40&height=30&fit=cover').querystring)).to.equal(
      'width=40&height=30&fit=cover',
    );
    expect(toQueryString(request(contain, '/a.jpg?width=40&height=30&fit=contain').querystring)).to.equal(
      'width=40&height=30',
    );
    expect(cacheKey(contain, '/a.jpg?width=40&height=30&fit=cover')).to.not.equal(
      cacheKey(contain, '/a.jpg?width=40&height=30'),
    );
  });

  it('gives every spelling of one number, key and variant one cache key', () => {
    const spellings = [
      '/t/enc2.png?width=400',
      '/t%2Fenc2.png?width=0400',
      '/t/%65nc2.png?width=%34%30%30',
      '/t/enc2.png?width=200&dpr=2&utm=1',
      '/t/enc2.png?dpr=2.00&width=200',
    ];
    expect(new Set(spellings.map((url) => cacheKey({}, url))).size).to.equal(1);
    expect(request({}, spellings[1] as string).uri).to.equal('/t/enc2.png');
    // dpr without a dimension folds away.
    expect(cacheKey({}, '/t/enc2.png?dpr=3')).to.equal(cacheKey({}, '/t/enc2.png'));
    // A character outside the key alphabet stays encoded once, so origin-request refuses it, never decoding twice.
    expect(request({}, '/a%2541.jpg').uri).to.equal('/a%2541.jpg');
  });

  it('canonicalizes the crop, effect and preset parameters', () => {
    const same = [
      '/a.jpg?width=40&height=30&bg=fff&rotate=0&gravity=focal',
      '/a.jpg?bg=FFFFFF&height=30&width=40',
      '/a.jpg?width=40&height=30&bg=ffffffff',
    ];
    expect(new Set(same.map((url) => cacheKey({}, url))).size).to.equal(1);
    // gravity without a crop or padding folds away.
    expect(cacheKey({}, '/a.jpg?width=40&gravity=top&height=30&fit=fill')).to.equal(
      cacheKey({}, '/a.jpg?width=40&height=30&fit=fill'),
    );
    expect(cacheKey({}, '/a.jpg?width=40&gravity=top')).to.equal(cacheKey({}, '/a.jpg?width=40'));
    expect(cacheKey({}, '/a.jpg?width=40&fx=0.2')).to.equal(cacheKey({}, '/a.jpg?width=40'));
    const all = request(
      {},
      '/a.jpg?trim=5&bg=F00&sharpen=1.5&blur=2.0&flip=hv&rotate=90&rect=1,2,30,40&fy=0.25&width=40&height=30',
    );
    expect(toQueryString(all.querystring)).to.equal(
      'width=40&height=30&fx=0.5&fy=0.25&rect=1,2,30,40&rotate=90&flip=hv&blur=2&sharpen=1.5&bg=ff0000ff&trim=5',
    );
    // gravity equal to a non-focal stage default folds; focal is then written out.
    expect(
      toQueryString(request({ defaultGravity: 'attention' }, '/a.jpg?width=4&height=3&gravity=attention').querystring),
    ).to.equal('width=4&height=3');
    expect(
      toQueryString(request({ defaultGravity: 'attention' }, '/a.jpg?width=4&height=3&gravity=focal').querystring),
    ).to.equal('width=4&height=3&gravity=focal');
  });

  it('expands presets, so a preset and its spelled-out params share one cache key', () => {
    const presets = { card: 'width=640&height=360&gravity=attention' };
    expect(cacheKey({ presets }, '/a.jpg?preset=card')).to.equal(
      cacheKey({ presets }, '/a.jpg?gravity=attention&height=360&width=640'),
    );
    expect(toQueryString(request({ presets }, '/a.jpg?preset=card&width=320').querystring)).to.equal(
      'width=320&height=360&gravity=attention',
    );
    expectError(run({ presets }, '/a.jpg?preset=nope'), 400, 'invalid_param', /one of card for preset/);
    const only = { presets, presetPolicy: 'only' as const };
    expect(toQueryString(request(only, '/a.jpg?dpr=2.0&format=webp&preset=card').querystring)).to.equal(
      'preset=card&format=webp&dpr=2',
    );
    expectError(run(only, '/a.jpg?preset=card&width=10'), 400, 'invalid_param', /width.*presets: card/);
  });

  describe('presetPolicy only', () => {
    const presets = { card: 'width=640&height=360&gravity=attention', thumb: 'width=160&height=160&sharpen=1' };
    const only = { presets, presetPolicy: 'only' as const };

    it('refuses a URL without a preset, listing the presets, so a preset (a watermark) cannot be left out', () => {
      for (const url of ['/a.jpg', '/a.jpg?format=webp', '/a.jpg?dpr=2', '/a.jpg?v=3', '/a.jpg?utm_source=x']) {
        expectError(
          run(only, url),
          400,
          'invalid_param',
          /^Parameter preset is required here: .*presets: card, thumb\)$/,
        );
      }
      // Still refused before the missing preset: a parameter the stage does not take.
      expectError(run(only, '/a.jpg?width=10'), 400, 'invalid_param', /width is not allowed here/);
    });

    it("answers the stage's defaultPreset for a URL without one, in the same cache entry as naming it", () => {
      const withDefault = { ...only, defaultPreset: 'thumb' };
      expect(cacheKey(withDefault, '/a.jpg')).to.equal(cacheKey(withDefault, '/a.jpg?preset=thumb'));
      expect(toQueryString(request(withDefault, '/a.jpg').querystring)).to.equal('preset=thumb');
      // v, format and dpr stay allowed; v is not an image parameter and leaves the cache key alone.
      expect(toQueryString(request(withDefault, '/a.jpg?format=webp&dpr=2&v=3').querystring)).to.equal(
        'preset=thumb&format=webp&dpr=2',
      );
      expect(toQueryString(request(withDefault, '/a.jpg?preset=card').querystring)).to.equal('preset=card');
      expectError(run(withDefault, '/a.jpg?blur=3'), 400, 'invalid_param', /blur is not allowed here/);
    });

    it('leaves a bare URL the full-size image under presetPolicy open, defaultPreset or not', () => {
      expect(toQueryString(request({ presets }, '/a.jpg').querystring)).to.equal('');
    });
  });

  it('answers a bad value with the same 400 as origin-request', () => {
    expectError(
      run({}, '/a.jpg?blur=0'),
      400,
      'invalid_param',
      /^Expected number between 0.3 and 100 for blur but received '0'$/,
    );
    expectError(run({}, '/a.jpg?width=1&width=2'), 400, 'invalid_param', /more than once/);
  });

  it('ignores a repeated unknown parameter unless signing is on', () => {
    expect(isViewerResponse(run({}, '/a.jpg?width=40&utm=1&utm=2'))).to.equal(false);
    expectError(run({ signingSecret: SECRET }, '/a.jpg?width=40&utm=1&utm=2'), 400, 'invalid_param');
  });

  it('records the path and query exactly as received for the 302 of an oversized derivative', () => {
    const location = (url: string) => request({}, url).headers['x-resizer-location']?.value;
    expect(location('/a.jpg?width=40&x=%20y')).to.equal('/a.jpg?width=40&x=%20y');
    expect(location('/a.jpg?a%26width%3D5=1&width=40')).to.equal('/a.jpg?a%26width%3D5=1&width=40');
    expect(location('/t%2Fenc2.png?width=0400')).to.equal('/t%2Fenc2.png?width=0400');
    // Raw CR/LF (or any control byte) never reaches a header.
    expect(location('/a.jpg?width=40&x=\r\nSet-Cookie:%20a')).to.equal('/a.jpg?width=40&x=%0D%0ASet-Cookie:%20a');
  });

  describe('signed URLs', () => {
    const signing = { signingSecret: SECRET };

    it('passes a URL signed by `edge-resizer sign` and drops sig and exp from the cache key', () => {
      for (const url of [
        '/photos/cat.jpg?width=400',
        '/photos/a%2Bb.jpg?format=webp&utm=caf%C3%A9&q=a+b',
        '/x.png',
        '/x.png?é=1&z=2',
      ]) {
        const signed = signUrl(url, SECRET, '1h');
        const result = request(signing, signed);
        expect(Object.keys(result.querystring)).to.not.include.members(['sig', 'exp']);
      }
    });

    it('checks the signature on the URL as sent, then canonicalizes', () => {
      const signed = signUrl('/t%2Fenc2.png?width=0400', SECRET, '1h');
      const result = request(signing, signed);
      expect(result.uri).to.equal('/t/enc2.png');
      expect(toQueryString(result.querystring)).to.equal('width=400');
      expectError(run(signing, signed.replace('width=0400', 'width=400')), 403, 'invalid_signature');
    });

    it('refuses unsigned, tampered and expired URLs with 403', () => {
      const signed = signUrl('/photos/cat.jpg?width=400', SECRET, '1h');
      expectError(run(signing, '/photos/cat.jpg?width=400'), 403, 'invalid_signature');
      expectError(run(signing, signed.replace('width=400', 'width=401')), 403, 'invalid_signature');
      expectError(run(signing, signed.replace('/cat.jpg', '/dog.jpg')), 403, 'invalid_signature');
      expectError(run(signing, `${signed}&extra=1`), 403, 'invalid_signature');
      expectError(
        run(
          signing,
          signed.replace(/sig=([^&]+)/, (_m, sig: string) => `sig=${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`),
        ),
        403,
        'invalid_signature',
      );
      expectError(run(signing, signed.replace(/exp=\d+/, 'exp=9999999999')), 403, 'invalid_signature');
      const expired = signUrl('/photos/cat.jpg?width=400', SECRET, String(Math.floor(Date.now() / 1000) - 5));
      expectError(run(signing, expired), 403, 'expired');
      expectError(run({ signingSecret: 'another' }, signed), 403, 'invalid_signature');
    });

    it('refuses a kid other than default without the KeyValueStore', () => {
      expectError(run(signing, signUrl('/a.jpg?width=1', SECRET, '1h', undefined, 'k2')), 403, 'invalid_signature');
    });

    it('accepts relative expiries of 30s, 15m, 1h and 7d', () => {
      for (const expires of ['30s', '15m', '1h', '7d']) {
        const result = run(signing, signUrl('/a.jpg?width=1', SECRET, expires));
        expect(isViewerResponse(result), expires).to.equal(false);
      }
    });
  });

  describe('signing keys from the KeyValueStore', () => {
    let dir: string;
    let file: string;
    const keys = (entries: Record<string, { secret: string; retired?: string }>) =>
      writeFileSync(
        file,
        JSON.stringify({
          keys: Object.fromEntries(
            Object.entries(entries).map(([kid, e]) => [kid, { created: '2026-12-01T00:00:00Z', ...e }]),
          ),
        }),
      );
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'edge-resizer-kvs-'));
      file = join(dir, 'signing-keys.json');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const kvsRun = async (url: string) => {
      const fn = loadViewerFunction({ ...base, signingSecret: SECRET }, { signingKeysFile: file });
      const q = url.indexOf('?');
      return fn(viewerEvent('GET', url.slice(0, q), url.slice(q + 1), { accept: '*/*' }, '203.0.113.7'));
    };

    it('builds an async handler importing crypto and cloudfront, still under 10 KB', () => {
      const code = buildViewerFunction({ ...stagesWorstCase(), keyValueStore: true });
      const bytes = Buffer.byteLength(code);
      console.log(`      viewer function (signed, presets, KeyValueStore): ${bytes} bytes of ${MAX_FUNCTION_BYTES}`);
      expect(bytes).to.be.below(MAX_FUNCTION_BYTES);
      expect(code.split('\n').slice(0, 2)).to.deep.equal([
        "import cfCrypto from 'crypto';",
        "import cf from 'cloudfront';",
      ]);
      expect(code).to.include('async function handler(event)');
    });

    it('verifies with the key the URL names, falls back to SIGNING_SECRET for default, and refuses retired keys at once', async () => {
      keys({ k2: { secret: 'second-secret' } });
      const withK2 = signUrl('/a.jpg?width=10', 'second-secret', '1h', undefined, 'k2');
      expect(isViewerResponse(await kvsRun(withK2))).to.equal(false);
      const result = (await kvsRun(withK2)) as { querystring: Record<string, unknown> };
      expect(Object.keys(result.querystring)).to.deep.equal(['width']);
      expect(isViewerResponse(await kvsRun(signUrl('/a.jpg?width=10', SECRET, '1h')))).to.equal(false);
      expectError(await kvsRun(signUrl('/a.jpg?width=10', SECRET, '1h', undefined, 'k2')), 403, 'invalid_signature');
      expectError(await kvsRun(signUrl('/a.jpg?width=10', 'x', '1h', undefined, 'nope')), 403, 'invalid_signature');
      expectError(await kvsRun(signUrl('/a.jpg?width=10', 'x', '1h', undefined, '../x')), 403, 'invalid_signature');
      // Retired: the file is re-read when it changes.
      keys({
        k2: { secret: 'second-secret', retired: '2026-12-01T01:00:00Z' },
        default: { secret: SECRET, retired: '2026-12-01T01:00:00Z' },
      });
      expectError(await kvsRun(withK2), 403, 'invalid_signature');
      expectError(await kvsRun(signUrl('/a.jpg?width=10', SECRET, '1h')), 403, 'invalid_signature');
    });
  });
});
