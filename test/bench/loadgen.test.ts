/**
 * The hit row's load generator (bench/lib/loadgen.ts) against real HTTP
 * servers on loopback: it frames responses by Content-Length across chunk
 * boundaries, counts what is not a 200, sends every request a paced run has
 * due, and times a request that waited for its busy connection from when it
 * was due, so a slow server's queue shows in the latencies (no coordinated
 * omission). Bounds only ever from below: a loaded machine makes them larger.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { runLoad } from '../../bench/lib/loadgen.js';

async function serve(listener: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('bench/lib/loadgen', () => {
  it('counts whole responses, split across writes, and the ones that are not 200', async () => {
    const body = Buffer.alloc(70_000, 0xff);
    let requests = 0;
    const { server, url } = await serve((req, res) => {
      requests += 1;
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-length': '2' }).end('no');
        return;
      }
      res.writeHead(200, { 'content-type': 'image/webp', 'content-length': String(body.length) });
      // The body in two writes, the second later: framing must not take a chunk for a response.
      res.write(body.subarray(0, 1000));
      setImmediate(() => res.end(body.subarray(1000)));
    });
    try {
      const ok = await runLoad({ url: `${url}/image.webp?w=1`, connections: 3, durationMs: 300, mode: 'closed' });
      expect(ok.errors).to.equal(0);
      expect(ok.non200).to.equal(0);
      expect(ok.responses).to.be.greaterThan(3);
      expect(ok.latencies).to.have.length(ok.responses);
      expect(ok.bodyBytes).to.equal(body.length);
      expect(requests, 'one request per response, no more in flight at the end').to.equal(ok.responses);
      const missing = await runLoad({ url: `${url}/missing`, connections: 2, durationMs: 200, mode: 'closed' });
      expect(missing.non200).to.equal(missing.responses);
      expect(missing.latencies).to.have.length(0);
    } finally {
      await stop(server);
    }
  });

  it('sends every request a paced run has due, and times one its busy connection held up from when it was due', async () => {
    // One connection, a request due every 10 ms, each taking the server 40 ms: a queue that grows.
    const { server, url } = await serve((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-length': '1' }).end('x'), 40);
    });
    try {
      const result = await runLoad({ url, connections: 1, durationMs: 500, mode: 'paced', rate: 100 });
      expect(result.offered).to.deep.equal({ rate: 100, requests: 50 });
      expect(result.responses).to.equal(50);
      expect(result.queued).to.be.greaterThan(0);
      // The 50th was due at 490 ms and answered no sooner than 50 × 40 ms = 2,000 ms after the start.
      expect(Math.max(...result.latencies)).to.be.greaterThan(1400);
      // Timed from its send instead, no request would take much over 40 ms.
      expect(result.wallMs).to.be.greaterThan(1900);
    } finally {
      await stop(server);
    }
  });

  it('times a request sent on time from its send, not from the start of the run', async () => {
    const { server, url } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1' }).end('x');
    });
    try {
      const result = await runLoad({ url, connections: 4, durationMs: 400, mode: 'paced', rate: 50 });
      expect(result.responses).to.equal(20);
      expect(result.errors).to.equal(0);
      // Due every 20 ms: timed from the start of the run, the latencies would add up to at least
      // 0 + 20 + … + 380 = 3,800 ms; timed from each send, to 20 loopback round trips.
      const total = result.latencies.reduce((a, b) => a + b, 0);
      expect(total).to.be.below(3800);
      expect(result.lag?.max).to.be.at.least(0);
    } finally {
      await stop(server);
    }
  });
});
