import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import type {
  CloudFrontHeaders,
  CloudFrontRequest,
  CloudFrontResponse,
  CloudFrontResponseEvent,
  CloudFrontResultResponse,
} from '../../src/edge/cloudfront.js';
import type { OriginRequestHandler } from '../../src/edge/origin-request.js';
import {
  createOriginResponseHandler,
  type OriginResponseHandler,
  type OriginResponseStore,
} from '../../src/edge/origin-response.js';
import { createEdgePipeline, type EdgeResponse } from '../../src/local/edge-pipeline.js';

/** An S3 origin that accepts connections and then stalls: before its headers, or halfway through its body. */
async function startStalledOrigin(stall: 'headers' | 'body') {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    if (stall === 'body') {
      res.writeHead(200, { 'content-type': 'image/webp', 'content-length': '1000' });
      res.write(Buffer.alloc(100));
    }
    // …and nothing more, ever.
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/derivatives`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('local/edge-pipeline (the CloudFront miss emulation)', () => {
  for (const stall of ['headers', 'body'] as const) {
    it(`times out an S3 origin that stalls before its ${stall}, and the trigger sees CloudFront's 504`, async () => {
      const origin = await startStalledOrigin(stall);
      const seen: string[] = [];
      try {
        const pipeline = createEdgePipeline({
          originRequest: async (event) => event.Records[0]?.cf.request as CloudFrontRequest,
          originResponse: async (event: CloudFrontResponseEvent) => {
            const response = event.Records[0]?.cf.response;
            seen.push(response?.status ?? '');
            return {
              status: '502',
              headers: { 'content-type': [{ key: 'Content-Type', value: 'application/json' }] },
              body: JSON.stringify({ status: 502, code: 'storage_error', message: 'Storage is unavailable' }),
            };
          },
          derivativesOrigin: origin.url,
          originTimeoutMs: 300,
        });
        const answer = await pipeline({
          method: 'GET',
          uri: '/photos/a.jpg/w100-q80-cover.webp',
          querystring: 'width=100',
          headers: { Accept: 'image/webp' },
        });
        expect(seen).to.deep.equal(['504']);
        expect(answer.status).to.equal(502);
        expect(JSON.parse(answer.body.toString())).to.include({ code: 'storage_error' });
      } finally {
        await origin.close();
      }
    });
  }
});

/** An S3 origin that answers every GET as S3 answers a missing key without ListBucket: a chunked 403. */
async function startS3Like403() {
  const server: Server = createServer((_req, res) => {
    // No Content-Length: Node frames it `Transfer-Encoding: chunked`, as S3 commonly does for this answer.
    res.writeHead(403, {
      'content-type': 'application/xml',
      date: 'Tue, 08 Dec 2026 01:00:00 GMT',
      server: 'AmazonS3',
      'x-amz-request-id': 'REQ123',
      'x-amz-id-2': 'ID2abc=',
      via: '1.1 origin-proxy',
    });
    res.write('<?xml version="1.0" encoding="UTF-8"?>');
    res.end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/derivatives`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const passThrough: OriginRequestHandler = async (event) => event.Records[0].cf.request;
const miss = { method: 'GET', uri: '/photos/a.jpg', querystring: 'width=100', headers: { Accept: 'image/webp' } };

/** What the local CDN answers when a result fails CloudFront's validation. */
async function expectValidation502(answer: EdgeResponse, reason: RegExp) {
  expect(answer.status, answer.body.toString()).to.equal(502);
  expect(answer.headers['x-cache']).to.equal('LambdaValidationError from cloudfront');
  const body = JSON.parse(answer.body.toString());
  expect(body).to.include({ status: 502, code: 'lambda_validation_error' });
  expect(body.message).to.match(/^The Lambda function result failed validation: /);
  expect(body.message).to.match(reason);
}

const jsonAnswer = (status: string, extra: CloudFrontHeaders = {}): CloudFrontResultResponse => ({
  status,
  headers: { 'content-type': [{ key: 'Content-Type', value: 'application/json' }], ...extra },
  bodyEncoding: 'text',
  body: '{}',
});

describe('local/edge-pipeline: CloudFront’s checks of trigger results', () => {
  let origin: Awaited<ReturnType<typeof startS3Like403>>;
  before(async () => {
    origin = await startS3Like403();
  });
  after(() => origin.close());

  const pipeline = (originResponse: OriginResponseHandler, originRequest: OriginRequestHandler = passThrough) =>
    createEdgePipeline({ originRequest, originResponse, derivativesOrigin: origin.url });

  // "Lambda@Edge event structure" (response event): the trigger sees the origin's status and headers.
  it("hands the origin-response trigger S3's answer unaltered: status, chunked Transfer-Encoding, Date, Server, x-amz-*", async () => {
    let seen: CloudFrontResponse | undefined;
    await pipeline(async (event) => {
      seen = structuredClone(event.Records[0].cf.response);
      return event.Records[0].cf.response;
    })(miss);
    expect(seen?.status).to.equal('403');
    const value = (name: string) => seen?.headers[name]?.[0]?.value;
    expect(value('transfer-encoding')).to.equal('chunked');
    expect(value('via')).to.equal('1.1 origin-proxy');
    expect(value('date')).to.equal('Tue, 08 Dec 2026 01:00:00 GMT');
    expect(value('server')).to.equal('AmazonS3');
    expect(value('x-amz-request-id')).to.equal('REQ123');
    expect(value('x-amz-id-2')).to.equal('ID2abc=');
    // "Restrictions on all edge functions": disallowed headers are not exposed to functions.
    expect(seen?.headers).to.not.have.any.keys('connection', 'keep-alive');
  });

  // "Restrictions on all edge functions", read-only headers of origin response: Transfer-Encoding, Via.
  it('answers 502 when a generated origin-response result drops or changes Transfer-Encoding or Via', async () => {
    await expectValidation502(await pipeline(async () => jsonAnswer('404'))(miss), /read-only header/);
    const changed = pipeline(async () =>
      jsonAnswer('404', {
        'transfer-encoding': [{ key: 'Transfer-Encoding', value: 'chunked' }],
        via: [{ key: 'Via', value: '1.1 something-else' }],
      }),
    );
    await expectValidation502(await changed(miss), /read-only header \(via\)/);
    const kept = await pipeline(async (event) => {
      const { headers } = event.Records[0].cf.response;
      return jsonAnswer('404', { 'transfer-encoding': headers['transfer-encoding'] ?? [], via: headers.via ?? [] });
    })(miss);
    expect(kept.status).to.equal(404);
    // The viewer's framing is the local CDN's own, as CloudFront's is.
    expect(kept.headers).to.not.have.any.keys('transfer-encoding', 'content-length');
  });

  it("lets the real origin-response handler's error for a chunked S3 403 through (its generated answer keeps them)", async () => {
    const handler = createOriginResponseHandler({
      config: createConfig(),
      // Never reached: the URI is not a derivative key, so the handler answers 404 before any storage call.
      store: {} as OriginResponseStore,
      masterKey: async () => Buffer.alloc(32),
      logger: createLogger('silent'),
    });
    const answer = await pipeline(handler)({ ...miss, uri: '/not-a-derivative' });
    expect(answer.status, answer.body.toString()).to.equal(404);
    expect(JSON.parse(answer.body.toString())).to.include({ code: 'not_found' });
  });

  // "Restrictions on all edge functions", disallowed headers.
  for (const name of [
    'connection',
    'keep-alive',
    'upgrade',
    'x-accel-redirect',
    'x-cache',
    'x-edge-location',
    'x-real-ip',
    'x-amz-cf-id',
    'x-forwarded-proto',
    'trailer',
  ]) {
    it(`answers 502 when a result sets the disallowed header ${name}`, async () => {
      const answer = await pipeline(async (event) => {
        const response = event.Records[0].cf.response;
        response.headers[name] = [{ key: name, value: '1' }];
        return response;
      })(miss);
      await expectValidation502(answer, new RegExp(`disallowed header \\(${name}\\)`));
    });
  }

  // "Quotas on Lambda@Edge": a generated origin response up to 1 MB, read as 1,000,000 bytes.
  it('answers 502 for a generated response over 1,000,000 bytes, headers counted, and serves one just under', async () => {
    const sized = (bodyBytes: number) =>
      pipeline(async (event) => ({
        status: '200',
        headers: { ...event.Records[0].cf.response.headers },
        bodyEncoding: 'text',
        body: 'x'.repeat(bodyBytes),
      }))(miss);
    await expectValidation502(await sized(1_000_000), /over the limit of 1000000/);
    expect((await sized(999_000)).status).to.equal(200);
  });

  // "Lambda@Edge event structure": the generated response's status is an HTTP status code.
  for (const status of ['99', '600', '2OO', '', '304 ']) {
    it(`answers 502 for the status ${JSON.stringify(status)}`, async () => {
      const answer = await pipeline(async (event) => ({
        ...jsonAnswer(status),
        headers: event.Records[0].cf.response.headers,
      }))(miss);
      await expectValidation502(answer, /is not an HTTP status code/);
    });
  }
  it('answers 502 for a 204 or 304 that carries a body, and for a body that is not base64 as declared', async () => {
    for (const status of ['204', '304']) {
      const answer = await pipeline(async (event) => ({
        ...jsonAnswer(status),
        headers: event.Records[0].cf.response.headers,
      }))(miss);
      await expectValidation502(answer, /cannot have a body/);
    }
    const notBase64 = await pipeline(async (event) => ({
      status: '200',
      headers: event.Records[0].cf.response.headers,
      bodyEncoding: 'base64',
      body: 'not base64!',
    }))(miss);
    await expectValidation502(notBase64, /not valid base64/);
  });

  // "Restrictions on all edge functions" (URI, query strings) and "Lambda@Edge event structure" (read-only fields).
  const forwardedAs =
    (change: (request: CloudFrontRequest) => void): OriginRequestHandler =>
    async (event) => {
      const request = event.Records[0].cf.request;
      change(request);
      return request;
    };
  const unreachable: OriginResponseHandler = async () => {
    throw new Error('the origin-response trigger must not run after a refused origin-request result');
  };
  for (const [what, change, reason] of [
    ['a URI without a leading /', (r: CloudFrontRequest) => (r.uri = 'photos/a.jpg'), /does not start with \//],
    ['a URI with a space', (r: CloudFrontRequest) => (r.uri = '/photos/a b.jpg'), /URI is not URL-encoded/],
    ['a URI with a ?', (r: CloudFrontRequest) => (r.uri = '/photos/a.jpg?width=1'), /URI is not URL-encoded/],
    [
      'a query starting with ?',
      (r: CloudFrontRequest) => (r.querystring = '?width=100'),
      /query string is not URL-encoded/,
    ],
    ['a URL over 8,192 characters', (r: CloudFrontRequest) => (r.uri = `/${'a'.repeat(8192)}`), /longer than 8192/],
    ['a changed method', (r: CloudFrontRequest) => (r.method = 'POST'), /read-only field method/],
    ['a changed clientIp', (r: CloudFrontRequest) => (r.clientIp = '198.51.100.1'), /read-only field clientIp/],
    [
      'an added Range',
      (r: CloudFrontRequest) => (r.headers.range = [{ key: 'Range', value: 'bytes=0-1' }]),
      /read-only header \(range\)/,
    ],
    [
      'an added Accept-Encoding',
      (r: CloudFrontRequest) => (r.headers['accept-encoding'] = [{ key: 'Accept-Encoding', value: 'gzip' }]),
      /read-only header \(accept-encoding\)/,
    ],
  ] as const) {
    it(`answers 502 for an origin-request result with ${what}`, async () => {
      await expectValidation502(await pipeline(unreachable, forwardedAs(change))(miss), reason);
    });
  }
});
