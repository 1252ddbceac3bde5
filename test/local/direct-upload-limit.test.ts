/**
 * Request bodies as a function URL delivers them. The largest direct upload is
 * one number for everyone: a function URL takes a 6 MB event with a binary
 * body base64-encoded in it, so the local CDN refuses a bigger body the way
 * the function URL would (413 JSON, before the API runs), and the CLI and the
 * playground switch to staged uploads above it. A text-typed body arrives as
 * UTF-8, so binary sent as text breaks locally as it would deployed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { STAGED_UPLOAD_THRESHOLD_BYTES } from '../../src/client-api/api-client.js';
import { FUNCTION_URL_EVENT_BYTES, MAX_DIRECT_UPLOAD_BYTES } from '../../src/core/limits.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { fixture } from '../helpers/images.js';

describe('local/server: request bodies as a function URL delivers them', () => {
  let dataDir: string;
  let server: LocalServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-direct-'));
    server = await startLocalServer({ dataDir, port: 0, logLevel: 'silent', seedSamples: false });
  });
  after(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const put = (key: string, bytes: number) =>
    fetch(`${server.url}/api/images/${key}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.apiToken}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.alloc(bytes, 0x41)),
    });

  it('is what fits a 6 MB event base64-encoded, and the CLI and the playground switch to staged uploads above it', () => {
    const base64 = Math.ceil(MAX_DIRECT_UPLOAD_BYTES / 3) * 4;
    expect(base64).to.be.below(FUNCTION_URL_EVENT_BYTES - 32 * 1024);
    expect(MAX_DIRECT_UPLOAD_BYTES).to.be.within(4.2e6, 4.5e6);
    // The CLI and the playground both switch at the API client's threshold.
    expect(STAGED_UPLOAD_THRESHOLD_BYTES).to.equal(MAX_DIRECT_UPLOAD_BYTES);
  });

  it('answers a body one byte over it 413 too_large in JSON, and stores nothing', async () => {
    const response = await put('limit/over.jpg', MAX_DIRECT_UPLOAD_BYTES + 1);
    expect(response.status).to.equal(413);
    expect(response.headers.get('content-type')).to.equal('application/json');
    const body = await response.json();
    expect(body).to.include({ status: 413, code: 'too_large' });
    expect(body.message).to.include('/api/uploads');
    const listing = await fetch(`${server.url}/api/images/limit/over.jpg`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    expect(listing.status).to.equal(404);
  });

  it('hands a text-typed body over as UTF-8, as a function URL does: a JPEG sent as text/plain is mangled (415)', async () => {
    const photo = new Uint8Array(fixture('photos/fig.jpg'));
    const headers = { authorization: `Bearer ${server.apiToken}` };
    const asText = await fetch(`${server.url}/api/images/limit/text.jpg`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'text/plain' },
      body: photo,
    });
    expect(asText.status).to.equal(415);
    expect(await asText.json()).to.include({ code: 'unsupported_format' });
    const asBinary = await fetch(`${server.url}/api/images/limit/text.jpg`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: photo,
    });
    expect(asBinary.status).to.equal(201);
  });

  it('hands a body of exactly the limit to the API, which judges the bytes (not an image: 415)', async () => {
    const response = await put('limit/at.jpg', MAX_DIRECT_UPLOAD_BYTES);
    expect(response.status).to.equal(415);
    expect(await response.json()).to.include({ code: 'unsupported_format' });
  });
});
