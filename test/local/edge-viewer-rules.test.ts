/**
 * The viewer-request function's result in the local CDN, held to "Restrictions
 * on all edge functions" (CloudFront Developer Guide): its read-only headers
 * (`Host`, `Content-Length`, `Transfer-Encoding`, `Via`) come back unchanged
 * and it adds no disallowed header, else CloudFront answers 502.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createEdgeCache } from '../../src/local/edge-cache.js';
import { createImageRoute } from '../../src/local/image-route.js';
import type { ViewerEvent, ViewerResult } from '../../src/local/viewer-function.js';

async function serve(viewerFunction: (event: ViewerEvent) => ViewerResult) {
  let originTrips = 0;
  const route = createImageRoute({
    viewerFunction,
    cache: createEdgeCache(),
    edge: async () => {
      originTrips += 1;
      return {
        status: 200,
        headers: { 'content-type': 'image/webp', 'cache-control': 'no-store' },
        body: Buffer.from('img'),
      };
    },
  });
  const server: Server = createServer((req, res) => void route(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    trips: () => originTrips,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('local/image-route: the viewer function’s result as CloudFront checks it', () => {
  const cases: [string, (event: ViewerEvent) => void, RegExp][] = [
    ['changes Host', (event) => (event.request.headers.host = { value: 'evil.example' }), /read-only header \(host\)/],
    ['deletes Host', (event) => delete event.request.headers.host, /read-only header \(host\)/],
    ['adds Via', (event) => (event.request.headers.via = { value: '1.1 me' }), /read-only header \(via\)/],
    [
      'adds X-Edge-Location',
      (event) => (event.request.headers['x-edge-location'] = { value: 'x' }),
      /disallowed header/,
    ],
    ['adds Connection', (event) => (event.request.headers.connection = { value: 'close' }), /disallowed header/],
  ];
  for (const [what, change, reason] of cases) {
    it(`answers 502 FunctionValidationError when the function ${what}`, async () => {
      const server = await serve((event) => {
        change(event);
        return event.request;
      });
      try {
        const response = await fetch(`${server.url}/photos/a.jpg?width=10`);
        expect(response.status).to.equal(502);
        expect(response.headers.get('x-cache')).to.equal('FunctionValidationError from cloudfront');
        const body = (await response.json()) as { code: string; message: string };
        expect(body.code).to.equal('lambda_validation_error');
        expect(body.message)
          .to.match(/^The CloudFront function result failed validation: /)
          .and.match(reason);
        expect(server.trips(), 'nothing reached the origin').to.equal(0);
      } finally {
        await server.close();
      }
    });
  }

  it('passes a function that leaves the read-only headers alone', async () => {
    const server = await serve((event) => {
      event.request.headers.accept = { value: 'image/webp' };
      return event.request;
    });
    try {
      const response = await fetch(`${server.url}/photos/a.jpg?width=10`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('x-cache')).to.equal('Miss from cloudfront');
    } finally {
      await server.close();
    }
  });
});
