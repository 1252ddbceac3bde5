/**
 * `/` is the playground: the distribution's `DefaultRootObject` is
 * `_playground/index.html` ("Specify a default root object", CloudFront
 * Developer Guide), and the image triggers of the default cache behaviour
 * must leave that page to S3 whether they see `/` or the object's path.
 */
import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import type { CloudFrontRequest } from '../../src/edge/cloudfront.js';
import { createOriginRequestHandler, ROOT_OBJECT_URI } from '../../src/edge/origin-request.js';
import { createOriginResponseHandler, type OriginResponseStore } from '../../src/edge/origin-response.js';
import { checkOriginRequestResult, copyHeaders } from '../../src/edge/result-rules.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';

describe('edge/playground-root (the default root object through the image triggers)', () => {
  const config = createConfig();
  const originRequest = createOriginRequestHandler(config);

  for (const uri of ['/', '/_playground/index.html']) {
    it(`forwards ${uri} to S3 as the playground's page, not as a derivative key or an error`, async () => {
      const event = originRequestEvent({ uri, accept: 'text/html' });
      const sent = { ...event.Records[0].cf.request, headers: copyHeaders(event.Records[0].cf.request.headers) };
      const result = (await originRequest(event)) as CloudFrontRequest;
      expect(checkOriginRequestResult(sent, result)).to.equal(undefined);
      expect(result.uri).to.equal('/_playground/index.html');
      expect(result.uri).to.equal(ROOT_OBJECT_URI);
    });
  }

  it("passes S3's answer for the playground's page through the origin-response trigger untouched", async () => {
    const originResponse = createOriginResponseHandler({
      config,
      // The playground is never a miss: no storage call.
      store: {} as OriginResponseStore,
      masterKey: async () => Buffer.alloc(32),
      logger: createLogger('silent'),
    });
    const forwarded = (await originRequest(originRequestEvent({ uri: '/' }))) as CloudFrontRequest;
    const event = originResponseEvent(forwarded, 200, { 'Content-Type': 'text/html', ETag: '"abc"' });
    const before = JSON.parse(JSON.stringify(event.Records[0].cf.response));
    expect(await originResponse(event)).to.deep.equal(before);
  });
});
