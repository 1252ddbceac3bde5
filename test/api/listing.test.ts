import { expect } from 'chai';
import { HttpError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import type { ImageVersion } from '../../src/storage/metadata-store.js';
import { type ApiHarness, startApi } from './harness.js';

const COUNT = 1000;

function item(key: string, version = 1): ImageVersion {
  return {
    key,
    version,
    contentType: 'image/jpeg',
    width: 640,
    height: 480,
    bytes: 1234 + version,
    sha256: 'ab'.repeat(32),
    created: new Date(Date.UTC(2025, 0, 1, 0, 0, version)).toISOString(),
    thumbhash: 'YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw==',
    meta: { n: key },
    objectKey: `_versions/${key}/x${version}`,
  };
}

describe('API: listing (NDJSON)', () => {
  let api: ApiHarness;
  const scan = { pagesRead: 0, largestPage: 0, failAtPage: 0 };

  before(async () => {
    api = await startApi({
      wrap: (deps) => ({
        ...deps,
        logger: createLogger('silent'),
        metadata: {
          ...deps.metadata,
          async *scanPages(options) {
            for await (const page of deps.metadata.scanPages(options)) {
              scan.pagesRead += 1;
              scan.largestPage = Math.max(scan.largestPage, page.length);
              if (scan.pagesRead === scan.failAtPage)
                throw new HttpError('storage_error', 'Metadata storage is unavailable; try again');
              yield page;
            }
          },
        },
      }),
    });
    // Written straight to the table: the listing is under test, not the uploads.
    const items = Array.from({ length: COUNT }, (_, i) => item(`many/${String(i).padStart(4, '0')}.jpg`));
    items.push(item('multi/a.jpg', 1), item('multi/a.jpg', 2), item('multi/a.jpg', 3));
    for (let i = 0; i < items.length; i += 50) {
      await Promise.all(items.slice(i, i + 50).map((version) => api.dynamo.metadata.putVersion(version)));
    }
  });
  after(() => api.close());
  beforeEach(() => {
    Object.assign(scan, { pagesRead: 0, largestPage: 0, failAtPage: 0 });
  });

  it('streams one line per image at its latest version, the first line before the scan is done', async () => {
    const start = performance.now();
    const res = await api.open('GET', '/api/images?limit=50');
    expect(res.statusCode).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/x-ndjson');
    expect(res.headers['cache-control']).to.equal('no-store');

    let firstLineAt = 0;
    let pagesAtFirstLine = 0;
    let text = '';
    for await (const chunk of res as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (!firstLineAt && text.includes('\n')) {
        firstLineAt = performance.now() - start;
        pagesAtFirstLine = scan.pagesRead;
      }
    }
    const total = performance.now() - start;
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));

    expect(lines).to.have.length(COUNT + 1);
    expect(new Set(lines.map((line) => line.key)).size).to.equal(COUNT + 1);
    const multi = lines.find((line) => line.key === 'multi/a.jpg');
    expect(multi).to.include({ version: 3, bytes: 1237, url: '/multi/a.jpg' });
    expect(multi).to.have.keys([
      'key',
      'version',
      'contentType',
      'width',
      'height',
      'bytes',
      'sha256',
      'created',
      'thumbhash',
      'meta',
      'focalPoint',
      'url',
    ]);
    expect(multi.focalPoint).to.equal(null);

    // Page by page: the handler never had more than one 50-item page, and wrote before reading the rest.
    expect(scan.pagesRead).to.be.at.least(Math.ceil((COUNT + 3) / 50));
    expect(scan.largestPage).to.be.at.most(50);
    expect(pagesAtFirstLine).to.be.lessThan(scan.pagesRead);
    console.log(
      `      figure: NDJSON listing of ${COUNT} images: first line ${firstLineAt.toFixed(1)} ms (after ${pagesAtFirstLine} of ${scan.pagesRead} pages), total ${total.toFixed(1)} ms`,
    );
  });

  it('filters with ?prefix= and answers an empty 200 when nothing matches', async () => {
    const multi = await api.request('GET', '/api/images?prefix=multi/');
    expect(
      multi.body
        .toString()
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).key),
    ).to.deep.equal(['multi/a.jpg']);
    const none = await api.request('GET', '/api/images?prefix=nothing/');
    expect(none.status).to.equal(200);
    expect(none.body.length).to.equal(0);
  });

  it('answers 400 invalid_param for a bad ?limit=', async () => {
    for (const limit of ['0', '1001', 'abc', '1.5']) {
      const response = await api.request('GET', `/api/images?limit=${limit}`);
      expect(response.status).to.equal(400);
      expect(response.json()).to.include({ code: 'invalid_param' });
    }
  });

  it('answers 502 JSON when the first page fails, and cuts the stream when a later one does', async () => {
    scan.failAtPage = 1;
    const first = await api.request('GET', '/api/images?limit=50');
    expect(first.status).to.equal(502);
    expect(first.json()).to.include({ code: 'storage_error' });

    scan.pagesRead = 0;
    scan.failAtPage = 3;
    const res = await api.open('GET', '/api/images?limit=50');
    expect(res.statusCode).to.equal(200);
    const outcome = await new Promise<string>((resolve) => {
      res.resume();
      res.on('end', () => resolve('complete'));
      res.on('error', () => resolve('aborted'));
      res.on('aborted', () => resolve('aborted'));
    });
    expect(outcome).to.equal('aborted');
  });
});
