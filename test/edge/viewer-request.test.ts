import { expect } from 'chai';
import { signUrl } from '../../src/core/signing.js';
import {
  isViewerResponse,
  loadViewerFunction,
  toQueryString,
  type ViewerConfig,
  type ViewerResponse,
  viewerEvent,
} from '../../src/local/viewer-function.js';

const base: ViewerConfig = {
  signingSecret: null,
  defaultQuality: 80,
  allowedWidths: [],
  widthPolicy: 'reject',
  maxDimension: 4096,
};
const SECRET = 'test-secret-☃';

function run(config: ViewerConfig, url: string, accept = '*/*') {
  const fn = loadViewerFunction(config);
  const [path, query = ''] = url.split('?');
  return fn(viewerEvent('GET', path as string, query, { accept, host: 'cdn.example.com' }, '203.0.113.7'));
}

function expectError(result: ReturnType<typeof run>, status: number, code: string) {
  expect(isViewerResponse(result), 'a generated response').to.equal(true);
  const response = result as ViewerResponse;
  expect(response.statusCode).to.equal(status);
  expect(response.headers?.['content-type']?.value).to.equal('application/json');
  expect(response.headers?.['cache-control']?.value).to.equal('no-store');
  const body = typeof response.body === 'object' ? JSON.parse(response.body.data) : undefined;
  expect(body).to.include({ status, code });
}

describe('edge/viewer-request (CloudFront Function)', () => {
  it('normalizes Accept to one value per negotiated format', () => {
    const cases: [string, string][] = [
      ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'image/webp'],
      ['image/webp,*/*', 'image/webp'],
      ['image/png,image/*;q=0.8,*/*;q=0.5', '*/*'],
      ['image/webp;q=0', '*/*'],
      ['', '*/*'],
    ];
    for (const [accept, normalized] of cases) {
      const result = run(base, '/a.jpg?width=10', accept);
      expect(isViewerResponse(result)).to.equal(false);
      if (!isViewerResponse(result)) expect(result.headers.accept?.value, accept).to.equal(normalized);
    }
  });

  it('keeps only the image params, in a fixed order, with defaults dropped', () => {
    const a = run(base, '/a.jpg?utm_source=x&height=30&width=40&quality=80&fit=cover&format=auto&dpr=1&cb=123');
    const b = run(base, '/a.jpg?width=40&height=30');
    if (isViewerResponse(a) || isViewerResponse(b)) expect.fail('expected requests');
    expect(toQueryString(a.querystring)).to.equal('width=40&height=30');
    expect(toQueryString(b.querystring)).to.equal('width=40&height=30');
    const c = run(base, '/a.jpg?quality=60&fit=contain&format=webp&dpr=2&width=10');
    if (isViewerResponse(c)) expect.fail('expected a request');
    expect(toQueryString(c.querystring)).to.equal('width=10&quality=60&fit=contain&format=webp&dpr=2');
  });

  it('drops numeric spellings of the defaults, and keeps invalid ones for origin-request to refuse', () => {
    const folded = run(base, '/a.jpg?width=40&dpr=1.0&quality=080');
    if (isViewerResponse(folded)) expect.fail('expected a request');
    expect(toQueryString(folded.querystring)).to.equal('width=40');
    const invalid = run(base, '/a.jpg?width=40&dpr=1.000&quality=80.0');
    if (isViewerResponse(invalid)) expect.fail('expected a request');
    expect(toQueryString(invalid.querystring)).to.equal('width=40&quality=80.0&dpr=1.000');
  });

  it('ignores a repeated unknown parameter unless signing is on', () => {
    expect(isViewerResponse(run(base, '/a.jpg?width=40&utm=1&utm=2'))).to.equal(false);
    expectError(run({ ...base, signingSecret: SECRET }, '/a.jpg?width=40&utm=1&utm=2'), 400, 'invalid_param');
  });

  it('records the path and query as received for the 302 of an oversized derivative', () => {
    const result = run(base, '/a.jpg?width=40&x=%20y');
    if (isViewerResponse(result)) expect.fail('expected a request');
    expect(result.headers['x-resizer-location']?.value).to.equal('/a.jpg?width=40&x=%20y');
  });

  it('answers a repeated parameter with 400 invalid_param', () => {
    expectError(run(base, '/a.jpg?width=1&width=2'), 400, 'invalid_param');
  });

  describe('signed URLs', () => {
    const signing = { ...base, signingSecret: SECRET };

    it('passes a URL signed by `edge-resizer sign` and drops sig and exp from the cache key', () => {
      for (const url of ['/photos/cat.jpg?width=400', '/photos/a%2Bb.jpg?format=webp&utm=caf%C3%A9&q=a+b', '/x.png']) {
        const signed = signUrl(url, SECRET, '1h');
        const result = run(signing, signed);
        if (isViewerResponse(result)) expect.fail(`${signed} was refused: ${JSON.stringify(result.body)}`);
        expect(Object.keys(result.querystring)).to.not.include.members(['sig', 'exp']);
      }
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
      expectError(run({ ...signing, signingSecret: 'another' }, signed), 403, 'invalid_signature');
    });

    it('accepts relative expiries of 30s, 15m, 1h and 7d', () => {
      for (const expires of ['30s', '15m', '1h', '7d']) {
        const result = run(signing, signUrl('/a.jpg?width=1', SECRET, expires));
        expect(isViewerResponse(result), expires).to.equal(false);
      }
    });
  });
});
