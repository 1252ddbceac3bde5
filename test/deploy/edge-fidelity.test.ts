/**
 * The packaged edge artefacts against CloudFront's rules, with the same
 * checks the local CDN applies (src/edge/result-rules.ts,
 * src/edge/viewer/runtime-check.ts): what `sls package` built, not the source.
 *   - The origin-response zip's generated answer to S3's chunked 403 keeps the
 *     read-only `Transfer-Encoding` and `Via` ("Restrictions on all edge
 *     functions"), else CloudFront would answer every miss 502.
 *   - The viewer-request function of the template runs in runtime 2.0's
 *     documented built-ins ("JavaScript runtime 2.0 features for CloudFront
 *     Functions") and answers a `preset=` URL instead of throwing.
 *   - `/` reaches the playground (the distribution's `DefaultRootObject`)
 *     through the packaged origin-request trigger.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'chai';
import type { CloudFrontRequest, CloudFrontResponse, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { ROOT_OBJECT_URI } from '../../src/edge/origin-request.js';
import { checkOriginRequestResult, checkOriginResponseResult, copyHeaders } from '../../src/edge/result-rules.js';
import { checkRuntime2Code } from '../../src/edge/viewer/runtime-check.js';
import { IMAGE_CACHE_POLICY } from '../../src/local/edge-cache.js';
import {
  isViewerResponse,
  runViewerCode,
  type ViewerEvent,
  type ViewerResponse,
  viewerEvent,
} from '../../src/local/viewer-function.js';
import { LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { withEnv } from './packaged.js';
import { type Packaged, packagedStages, type Stage, unpackedFunction } from './stages.js';

const require = createRequire(import.meta.url);
const { renderViewerFunction } = require('../../scripts/sls-viewer-function.cjs') as {
  renderViewerFunction: (edgeConfig: unknown, options: { keyValueStore: boolean }) => string;
};

/** The KeyValueStore of a stage with no keys but the baked default: `get` rejects, as deployed. */
const emptyKeyValueStore = {
  get: async (key: string): Promise<string> => {
    throw new Error(`The key ${key} does not exist`);
  },
};

const event = (query: string): ViewerEvent =>
  viewerEvent(
    'GET',
    '/photos/a.jpg',
    query,
    { accept: 'image/webp', host: 'd111111abcdef8.cloudfront.net' },
    '203.0.113.7',
  );

describe('deploy/edge-fidelity (the packaged edge artefacts under CloudFront’s rules)', () => {
  let packaged: Record<Stage, Packaged>;

  before(async function () {
    this.timeout(300_000);
    packaged = await packagedStages();
  });

  it("keeps S3's chunked Transfer-Encoding and Via in the packaged origin-response's generated answer", async function () {
    this.timeout(60_000);
    const dir = await unpackedFunction('dev', 'originResponse');
    const env = {
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: 'packaged-test-session',
    };
    await withEnv(env, async () => {
      const { handler } = require(join(dir, 'src/entry/origin-response.js')) as {
        handler: (event: unknown) => Promise<CloudFrontResponse | CloudFrontResultResponse>;
      };
      // S3's answer for a key it does not hold (no ListBucket): 403, chunked, through a proxy that adds Via.
      const s3Answer = originResponseEvent(
        originRequestEvent({ uri: '/_not-an-image-key', accept: 'image/webp' }).Records[0].cf.request,
        403,
        {
          'Transfer-Encoding': 'chunked',
          Via: '1.1 a1b2c3.cloudfront.net (CloudFront)',
          'Content-Type': 'application/xml',
          'Content-Length': '243',
          Server: 'AmazonS3',
          'x-amz-request-id': 'REQ123',
        },
      );
      const received = { ...s3Answer.Records[0].cf.response };
      received.headers = copyHeaders(received.headers);
      const result = (await handler(s3Answer)) as CloudFrontResultResponse;
      expect(result.status, result.body).to.equal('404');
      expect(checkOriginResponseResult(received, result)).to.equal(undefined);
      expect(result.headers?.['transfer-encoding']).to.deep.equal([{ key: 'Transfer-Encoding', value: 'chunked' }]);
      expect(result.headers?.via).to.deep.equal([{ key: 'Via', value: '1.1 a1b2c3.cloudfront.net (CloudFront)' }]);
      // S3's framing and type describe its XML, not the generated JSON.
      expect(result.headers).to.not.have.any.keys('content-length', 'server', 'x-amz-request-id');
      expect(result.headers?.['content-type']?.[0]?.value).to.equal('application/json');
    });
  });

  for (const stage of ['dev', 'prod'] as const) {
    it(`passes runtime 2.0's static check with the ${stage} template's viewer function, and answers preset= without throwing`, async () => {
      const code = packaged[stage].template.Resources.ViewerRequestFunction.Properties.FunctionCode as string;
      expect(checkRuntime2Code(code)).to.deep.equal([]);
      const run = runViewerCode(code, { keyValueStore: emptyKeyValueStore });
      // The stages define no presets: a preset is a 400 (prod: after the 403 of an unsigned URL), not a crash.
      const result = (await run(event('preset=thumb'))) as ViewerResponse;
      expect(isViewerResponse(result)).to.equal(true);
      expect(result.statusCode).to.equal(stage === 'prod' ? 403 : 400);
    });
  }

  // "Specify a default root object": the root URL is the playground's page, through the image triggers.
  it("forwards / to the template's DefaultRootObject with the packaged origin-request, whichever URI it is shown", async function () {
    this.timeout(60_000);
    const root = packaged.dev.template.Resources.ImageDistribution.Properties.DistributionConfig.DefaultRootObject;
    expect(`/${root}`).to.equal(ROOT_OBJECT_URI);
    const dir = await unpackedFunction('dev', 'originRequest');
    const { handler } = require(join(dir, 'src/entry/origin-request.js')) as {
      handler: (event: unknown) => Promise<CloudFrontRequest | CloudFrontResultResponse>;
    };
    for (const uri of ['/', `/${root}`]) {
      const event = originRequestEvent({ uri, accept: 'text/html' });
      const sent = { ...event.Records[0].cf.request, headers: copyHeaders(event.Records[0].cf.request.headers) };
      const result = await handler(event);
      expect(checkOriginRequestResult(sent, result), uri).to.equal(undefined);
      expect((result as CloudFrontRequest).uri, uri).to.equal(`/${root}`);
    }
  });

  it("caches locally under the template's ImageCachePolicy TTLs", () => {
    for (const stage of ['dev', 'prod'] as const) {
      const policy = packaged[stage].template.Resources.ImageCachePolicy.Properties.CachePolicyConfig;
      expect({ minTtl: policy.MinTTL, defaultTtl: policy.DefaultTTL, maxTtl: policy.MaxTTL }, stage).to.deep.equal(
        IMAGE_CACHE_POLICY,
      );
    }
  });

  it('expands preset= with a stage config that has presets, built as sls package builds the function', async () => {
    const edgeConfig = { ...packaged.dev.state.service.custom.edgeConfig, presets: { thumb: 'width=160&height=160' } };
    const code = renderViewerFunction(edgeConfig, { keyValueStore: true });
    expect(checkRuntime2Code(code)).to.deep.equal([]);
    const result = await runViewerCode(code, { keyValueStore: emptyKeyValueStore })(event('preset=thumb'));
    if (isViewerResponse(result)) expect.fail(`answered ${result.statusCode}: ${JSON.stringify(result.body)}`);
    expect(result.querystring).to.deep.equal({ width: { value: '160' }, height: { value: '160' } });
  });
});
