import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import type { CloudFrontRequest, CloudFrontResponseEvent } from '../../src/edge/cloudfront.js';
import { createEdgePipeline } from '../../src/local/edge-pipeline.js';

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
