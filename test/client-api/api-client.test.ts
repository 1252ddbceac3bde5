/**
 * The API client the CLI and the playground share, against a real local CDN:
 * its staged upload's parallelism, retries and abort are the same for both
 * (each brings only how a part's bytes travel, here `fetch`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import {
  ApiClient,
  ApiError,
  PART_ATTEMPTS,
  PART_CONCURRENCY,
  PartUploadError,
  type SendPart,
} from '../../src/client-api/api-client.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';

/** A part PUT through fetch, as simple as a caller can make it. */
const fetchPart: SendPart<Uint8Array> = async (url, body, onSent) => {
  const response = await fetch(url, { method: 'PUT', body: new Uint8Array(body) }).catch((error: Error) => {
    throw new ApiError(0, 'network_error', error.message);
  });
  const etag = response.headers.get('etag');
  if (!response.ok || !etag) throw new ApiError(response.status, 'part_refused', await response.text());
  onSent(body.length);
  return etag;
};

describe('client-api: the staged upload the CLI and the playground share', function () {
  this.timeout(120_000);
  let dir: string;
  let server: LocalServer;
  let client: ApiClient;
  let png: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-client-api-'));
    server = await startLocalServer({ dataDir: join(dir, 'data'), port: 0, seedSamples: false, log: () => {} });
    client = new ApiClient(server.url, server.apiToken);
    // About 12 MB of noise: two parts of the API's 8 MiB.
    png = await sharp(randomBytes(2000 * 2000 * 3), { raw: { width: 2000, height: 2000, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const read = (bytes: Uint8Array) => async (offset: number, length: number) => bytes.subarray(offset, offset + length);
  const exists = async (key: string) =>
    (await fetch(`${server.url}/api/images/${key}`, { headers: { authorization: `Bearer ${server.apiToken}` } }))
      .status;

  it(`retries a failing part up to ${PART_ATTEMPTS} times, then stores the same bytes; progress ends at the size`, async () => {
    const attempts = new Map<string, number>();
    let bytes = 0;
    const flaky: SendPart<Uint8Array> = (url, body, onSent) => {
      const tries = (attempts.get(url) ?? 0) + 1;
      attempts.set(url, tries);
      if (tries < PART_ATTEMPTS) {
        onSent(1000); // some bytes went out before the failure: they must be taken back
        return Promise.reject(new ApiError(503, 'storage_error', 'injected'));
      }
      return fetchPart(url, body, onSent);
    };
    const saved = await client.stagedUpload({
      bytes: png.length,
      key: 'client/retried.png',
      readPart: read(png),
      sendPart: flaky,
      onBytes: (delta) => (bytes += delta),
    });
    expect(saved).to.include({ key: 'client/retried.png', bytes: png.length });
    expect([...attempts.values()]).to.deep.equal([PART_ATTEMPTS, PART_ATTEMPTS]);
    expect(bytes).to.equal(png.length);
    const stored = await fetch(`${server.url}/api/images/client/retried.png`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    const item = (await stored.json()) as { versions: { sha256: string }[] };
    expect(item.versions.at(-1)?.sha256).to.equal(createHash('sha256').update(png).digest('hex'));
  });

  it('does not retry a part refused with a 4xx, aborts the upload and stores nothing', async () => {
    let calls = 0;
    const refused: SendPart<Uint8Array> = () => {
      calls += 1;
      return Promise.reject(new ApiError(403, 'AccessDenied', 'Request has expired'));
    };
    const failure = await client
      .stagedUpload({ bytes: png.length, key: 'client/refused.png', readPart: read(png), sendPart: refused })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).to.be.instanceOf(PartUploadError);
    expect((failure as Error).message).to.equal('part upload failed after 1 attempt: 403 AccessDenied');
    expect(calls).to.be.within(1, 2);
    expect(await exists('client/refused.png')).to.equal(404);
    // Aborted: the staging bucket holds no part and no upload (a finished upload's claim aside).
    const staged = await readdir(join(dir, 'data', 's3', server.config.stagingBucket), {
      recursive: true,
      withFileTypes: true,
    }).catch(() => []);
    expect(staged.filter((entry) => entry.isFile() && !entry.parentPath.includes(`${sep}claims`))).to.deep.equal([]);
  });

  it(`keeps at most ${PART_CONCURRENCY} parts in flight`, async () => {
    const size = 5 * 8 * 1024 * 1024; // five parts: more than run at once
    let inFlight = 0;
    let peak = 0;
    const slow: SendPart<Uint8Array> = async (_url, body, onSent) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight -= 1;
      onSent(body.length);
      return '"etag"';
    };
    const bytes = new Uint8Array(size);
    // The parts never reached the bucket, so complete is refused; the concurrency is what is measured.
    const failure = await client
      .stagedUpload({ bytes: size, key: 'client/wide.bin', readPart: read(bytes), sendPart: slow })
      .catch((error: unknown) => error);
    expect(failure).to.be.instanceOf(ApiError);
    expect(peak).to.equal(PART_CONCURRENCY);
  });

  it('answers an API refusal as the API wrote it (status, code, message)', async () => {
    const failure = await new ApiClient(server.url, 'not-the-token')
      .stagedUpload({ bytes: png.length, readPart: read(png), sendPart: fetchPart })
      .catch((error: unknown) => error);
    expect(failure).to.be.instanceOf(ApiError);
    expect(failure).to.include({ status: 403, code: 'forbidden' });
    expect((failure as ApiError).message)
      .to.be.a('string')
      .and.not.equal('');
  });
});
