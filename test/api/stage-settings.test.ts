import { expect } from 'chai';
import { type ApiHarness, startApi } from './harness.js';

describe('api: GET /api/settings', function () {
  this.timeout(60_000);
  let api: ApiHarness;

  before(async () => {
    api = await startApi({
      config: {
        presets: { card: 'width=640&height=360&gravity=attention', thumb: 'width=120&height=120' },
        presetPolicy: 'only',
        defaultGravity: 'center',
        autoAvif: false,
        defaultQuality: 70,
        limits: { maxDimension: 2048 },
      },
    });
  });
  after(() => api?.close());

  it("answers the stage's presets, policy, default gravity, autoAvif, maxDimension and default quality", async () => {
    const response = await api.request('GET', '/api/settings');
    expect(response.status).to.equal(200);
    expect(response.headers['content-type']).to.match(/^application\/json/);
    expect(response.json()).to.deep.equal({
      presets: { card: 'width=640&height=360&gravity=attention', thumb: 'width=120&height=120' },
      presetPolicy: 'only',
      defaultGravity: 'center',
      autoAvif: false,
      maxDimension: 2048,
      defaultQuality: 70,
    });
  });

  it('needs the API token', async () => {
    const response = await api.request('GET', '/api/settings', { token: false });
    expect(response.status).to.equal(401);
    expect(response.json()).to.include({ code: 'unauthorized' });
  });

  it('is read-only: 405 with Allow: GET for anything else', async () => {
    const response = await api.request('PUT', '/api/settings', { body: '{}' });
    expect(response.status).to.equal(405);
    expect(response.headers.allow).to.equal('GET');
  });
});
