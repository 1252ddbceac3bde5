/**
 * Metrics lines (src/core/metrics.ts): every line the origin-response and API
 * handlers write parses as CloudWatch embedded metric format, one line per
 * request, with the numbers of what that request did. The handlers run for
 * real against s3rver/dynalite with real sharp.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { createLogger } from '../../src/core/log.js';
import { METRICS, METRICS_NAMESPACE, type MetricName, toEmf } from '../../src/core/metrics.js';
import { originalRevision, SOURCE_REVISION_META } from '../../src/core/render.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { createOriginRequestHandler } from '../../src/edge/origin-request.js';
import { createOriginResponseHandler } from '../../src/edge/origin-response.js';
import { startApi } from '../api/harness.js';
import { emfMetrics, emfProblems } from '../helpers/emf.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { fixture } from '../helpers/images.js';
import { putOriginal } from '../helpers/originals.js';
import { startTestStorage, type TestStorage } from '../helpers/storage.js';

describe('metrics (embedded metric format)', () => {
  it('writes every metric of the catalogue as valid EMF, each named in exactly one directive', () => {
    const all = Object.fromEntries(Object.keys(METRICS).map((name) => [name, 1])) as Record<MetricName, number>;
    const line = JSON.stringify(
      toEmf({
        stage: 'prod',
        function: 'originResponse',
        metrics: all,
        dimensions: { Format: 'webp', ErrorCode: 'busy' },
        timestamp: 1_700_000_000_000,
      }),
    );
    expect(emfProblems(line)).to.deep.equal([]);
    const root = JSON.parse(line);
    const named = root._aws.CloudWatchMetrics.flatMap((d: { Metrics: { Name: string }[] }) =>
      d.Metrics.map((m) => m.Name),
    );
    expect([...named].sort()).to.deep.equal(Object.keys(METRICS).sort());
    expect(new Set(named).size).to.equal(named.length);
    for (const directive of root._aws.CloudWatchMetrics) {
      expect(directive.Namespace).to.equal(METRICS_NAMESPACE);
      expect(directive.Dimensions[0].slice(0, 2)).to.deep.equal(['Stage', 'Function']);
    }
    expect(root).to.include({ Stage: 'prod', Function: 'originResponse', Format: 'webp', ErrorCode: 'busy' });
  });

  it('leaves out a metric whose breakdown dimension has no value, rather than writing an invalid line', () => {
    const line = JSON.stringify(
      toEmf({ stage: 'dev', function: 'api', metrics: { Requests: 1, Errors: 1, Served: 1 } }),
    );
    expect(emfProblems(line)).to.deep.equal([]);
    expect(emfMetrics(line)).to.deep.equal({ Requests: 1 });
  });

  it('the validator refuses what CloudWatch would refuse (a missing member, a bad unit, a missing dimension)', () => {
    const good = toEmf({ stage: 'dev', function: 'api', metrics: { Requests: 1 } });
    const noMember = { ...good, Requests: undefined };
    const badUnit = JSON.parse(JSON.stringify(good));
    badUnit._aws.CloudWatchMetrics[0].Metrics[0].Unit = 'Requests';
    const noDimension = { ...good, Stage: undefined };
    expect(emfProblems(JSON.stringify(noMember))).to.have.length(1);
    expect(emfProblems(JSON.stringify(badUnit))).to.have.length(1);
    expect(emfProblems(JSON.stringify(noDimension))).to.have.length(1);
  });

  describe('origin-response', () => {
    let storage: TestStorage;
    const lines: string[] = [];
    const original = fixture('photos/mountains.jpg');

    before(async () => {
      storage = await startTestStorage();
      await putOriginal(storage, 'photos/mountains.jpg', original);
    });
    after(() => storage.close());
    beforeEach(() => {
      lines.length = 0;
    });

    const originResponse = () =>
      createOriginResponseHandler({
        config: storage.config,
        store: storage.store,
        masterKey: async () => storage.masterKey,
        logger: createLogger('silent'),
        metrics: (line) => lines.push(line),
      });

    async function originRequest(uri: string, querystring: string) {
      return (await createOriginRequestHandler(storage.config)(
        originRequestEvent({ uri, querystring, accept: 'image/webp' }),
      )) as CloudFrontRequest;
    }

    it('a miss writes one line: Misses, the format served, output and original bytes, the step times', async () => {
      const request = await originRequest('/photos/mountains.jpg', 'width=120');
      const result = (await originResponse()(originResponseEvent(request, 404))) as CloudFrontResultResponse;
      expect(result.status).to.equal('200');
      const body = Buffer.from(result.body ?? '', 'base64');
      const served = await sharp(body).metadata();
      expect(lines).to.have.length(1);
      const line = lines[0] ?? '';
      expect(emfProblems(line)).to.deep.equal([]);
      const root = JSON.parse(line);
      expect(root).to.include({ Stage: storage.config.stage, Function: 'originResponse', Format: served.format });
      const metrics = emfMetrics(line);
      expect(metrics).to.include({ Requests: 1, Misses: 1, Served: 1, OutputBytes: body.length });
      expect(metrics.OriginalBytes).to.equal(original.length);
      for (const name of ['Duration', 'FetchTime', 'TransformTime', 'StoreTime'])
        expect(metrics[name], name).to.be.a('number').and.at.least(0);
      expect(metrics).not.to.have.property('Errors');
      expect(metrics).not.to.have.property('StoredHits');
    });

    it('a current stored derivative counts as StoredHits, not as a miss', async () => {
      const request = await originRequest('/photos/mountains.jpg', 'width=120');
      const head = await storage.store.headOriginal('photos/mountains.jpg');
      const revision = originalRevision(head?.metadata ?? {});
      const event = originResponseEvent(request, 200, { [`x-amz-meta-${SOURCE_REVISION_META}`]: revision });
      const result = await originResponse()(event);
      expect(result).to.equal(event.Records[0].cf.response);
      expect(lines).to.have.length(1);
      expect(emfProblems(lines[0] ?? '')).to.deep.equal([]);
      expect(emfMetrics(lines[0] ?? ''))
        .to.include({ Requests: 1, StoredHits: 1 })
        .and.not.have.property('Misses');
    });

    it('an error answer counts under its code', async () => {
      const request = await originRequest('/photos/none-such.jpg', 'width=120');
      const result = (await originResponse()(originResponseEvent(request, 404))) as CloudFrontResultResponse;
      expect(result.status).to.equal('404');
      expect(lines).to.have.length(1);
      expect(emfProblems(lines[0] ?? '')).to.deep.equal([]);
      expect(JSON.parse(lines[0] ?? '')).to.include({ ErrorCode: 'not_found' });
      expect(emfMetrics(lines[0] ?? ''))
        .to.include({ Requests: 1, Errors: 1 })
        .and.not.have.property('Misses');
    });

    it('a sink that throws does not break the answer', async () => {
      const handler = createOriginResponseHandler({
        config: storage.config,
        store: storage.store,
        masterKey: async () => storage.masterKey,
        logger: createLogger('silent'),
        metrics: () => {
          throw new Error('stdout closed');
        },
      });
      const request = await originRequest('/photos/mountains.jpg', 'width=60');
      const result = (await handler(originResponseEvent(request, 404))) as CloudFrontResultResponse;
      expect(result.status).to.equal('200');
    });
  });

  describe('api', () => {
    it('writes one line per request, with the error code of a failed one', async () => {
      const lines: string[] = [];
      const api = await startApi({ wrap: (deps) => ({ ...deps, metrics: (line) => lines.push(line) }) });
      try {
        const listed = await api.request('GET', '/api/images');
        expect(listed.status).to.equal(200);
        const refused = await api.request('GET', '/api/images', { token: false });
        expect(refused.status).to.equal(401);
        expect(lines).to.have.length(2);
        for (const line of lines) expect(emfProblems(line)).to.deep.equal([]);
        expect(emfMetrics(lines[0] ?? '')).to.have.keys('Requests', 'Duration');
        expect(JSON.parse(lines[1] ?? '')).to.include({ Function: 'api', ErrorCode: 'unauthorized' });
        expect(emfMetrics(lines[1] ?? '')).to.include({ Requests: 1, Errors: 1 });
      } finally {
        await api.close();
      }
    });
  });
});
