/**
 * The origin-verify check of the deployed API: the function URL is public, so
 * a request that does not carry CloudFront's X-Origin-Verify header is
 * refused before anything else, originals included ("Add custom headers to
 * origin requests", CloudFront Developer Guide: identifying requests from
 * CloudFront). Through the real handler over real HTTP.
 */
import { expect } from 'chai';
import { createOriginCheck, ORIGIN_VERIFY_HEADER } from '../../src/api/auth.js';
import { type ApiHarness, type ApiResponse, startApi } from './harness.js';

const expectForbidden = (response: ApiResponse) => {
  expect(response.status).to.equal(403);
  expect(response.headers['content-type']).to.match(/^application\/json/);
  expect(response.json()).to.deep.include({ status: 403, code: 'forbidden' });
};

describe('api: the origin-verify header', function () {
  this.timeout(60_000);
  let api: ApiHarness;
  let secret = 'first-origin-verify-value-0123456789';
  let reads = 0;
  let clock = 0;

  before(async () => {
    api = await startApi({
      wrap: (deps) => ({
        ...deps,
        checkOrigin: createOriginCheck(
          async () => {
            reads += 1;
            return `${secret}\n`;
          },
          { refreshAfterMs: 60_000, now: () => clock },
        ),
      }),
    });
  });
  after(() => api?.close());

  it('refuses a request without the header, or with a wrong one, with 403 forbidden before the token is looked at', async () => {
    expectForbidden(await api.request('GET', '/api/settings'));
    expectForbidden(await api.request('GET', '/api/settings', { token: false }));
    expectForbidden(await api.request('GET', '/api/settings', { headers: { [ORIGIN_VERIFY_HEADER]: 'guess' } }));
    // A prefix or the value with extra bytes is as wrong as any guess.
    for (const near of [secret.slice(0, -1), `${secret}x`, secret.toUpperCase()]) {
      expectForbidden(await api.request('GET', '/api/settings', { headers: { [ORIGIN_VERIFY_HEADER]: near } }));
    }
    expectForbidden(await api.request('GET', '/originals/anything'));
  });

  it('lets the right value through to the bearer check', async () => {
    const headers = { [ORIGIN_VERIFY_HEADER]: secret };
    expect((await api.request('GET', '/api/settings', { headers })).status).to.equal(200);
    expect((await api.request('GET', '/api/settings', { headers, token: false })).status).to.equal(401);
    expect((await api.request('GET', '/api/settings', { headers, token: 'wrong' })).status).to.equal(403);
    // Past the check, a bad originals token is its own 403 (invalid token, not the origin).
    const originals = await api.request('GET', '/originals/not-a-token', { headers });
    expect(originals.status).to.equal(403);
  });

  it('reads the value once, and a flood of wrong headers rereads it at most once a minute', async () => {
    const before = reads;
    for (let i = 0; i < 20; i++) {
      await api.request('GET', '/api/settings', { headers: { [ORIGIN_VERIFY_HEADER]: `wrong-${i}` } });
    }
    expect(reads - before).to.be.at.most(1);
  });

  it('picks up a rotated value within the refresh interval, and then refuses the old one', async () => {
    const old = secret;
    secret = 'second-origin-verify-value-9876543210';
    // Before the interval: the container still knows only the old value.
    expectForbidden(await api.request('GET', '/api/settings', { headers: { [ORIGIN_VERIFY_HEADER]: secret } }));
    clock += 61_000;
    expect(
      (await api.request('GET', '/api/settings', { headers: { [ORIGIN_VERIFY_HEADER]: secret } })).status,
    ).to.equal(200);
    clock += 61_000;
    expectForbidden(await api.request('GET', '/api/settings', { headers: { [ORIGIN_VERIFY_HEADER]: old } }));
  });

  it('answers 502 storage_error, not 200 and not a crash, when the value cannot be read', async () => {
    const check = createOriginCheck(async () => {
      throw new Error('ParameterNotFound');
    });
    const failure = await check('anything').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).to.include({ status: 502, code: 'storage_error' });
    const empty = createOriginCheck(async () => '  ');
    expect(
      await empty('').then(
        () => 'let through',
        () => 'refused',
      ),
    ).to.equal('refused');
  });
});
