import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { BODY_STREAM } from '../../src/api/lambda-stream.js';
import { HttpError } from '../../src/core/errors.js';
import { createApiRequestListener } from '../../src/local/node-adapter.js';
import {
  type FunctionUrlEvent,
  installStreamingShim,
  STREAMING_HANDLER,
  type StreamingHandler,
} from '../../src/local/streaming-shim.js';

/** The body the adapter handed over unread, read to the end. */
async function text(event: FunctionUrlEvent): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of event[BODY_STREAM] ?? []) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('local/node-adapter and streaming shim', () => {
  let server: Server;
  let url: string;
  let current: StreamingHandler = async () => {};

  before(async () => {
    installStreamingShim();
    server = createServer(
      createApiRequestListener((event, stream, context) => current(event, stream, context), { maxBodyBytes: 1024 }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function open(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
  ) {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        `${url}${path}`,
        { method: init.method ?? 'GET', headers: init.headers, agent: false },
        resolve,
      );
      req.on('error', reject);
      req.end(init.body);
    });
  }

  async function fetchAll(path: string, init?: Parameters<typeof open>[1]) {
    const res = await open(path, init);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return { res, body: Buffer.concat(chunks).toString('utf8') };
  }

  it('turns a request into a function URL 2.0 event: raw path and query, lower-case headers, cookies, the body as a stream', async () => {
    let seen: FunctionUrlEvent | undefined;
    let body: Buffer | undefined;
    current = async (event, stream) => {
      seen = event;
      body = await text(event);
      stream.end();
    };
    await fetchAll('/api/images/a%20b.jpg?x=1&x=2&y=&constructor=c&__proto__=p', {
      method: 'PUT',
      headers: { 'X-Meta-Title': 'Hi', Cookie: 'a=1; b=2', 'Content-Type': 'image/jpeg' },
      body: Buffer.from([0xff, 0xd8, 0x00]),
    });
    expect(seen).to.deep.include({
      version: '2.0',
      rawPath: '/api/images/a%20b.jpg',
      rawQueryString: 'x=1&x=2&y=&constructor=c&__proto__=p',
      isBase64Encoded: false,
    });
    expect(seen?.body).to.equal(undefined);
    expect(seen?.requestContext.http.method).to.equal('PUT');
    expect(seen?.headers['x-meta-title']).to.equal('Hi');
    expect(seen?.cookies).to.deep.equal(['a=1', 'b=2']);
    // Client-chosen names are plain entries of maps without a prototype.
    expect(Object.entries(seen?.queryStringParameters ?? {})).to.deep.equal([
      ['x', '1,2'],
      ['y', ''],
      ['constructor', 'c'],
      ['__proto__', 'p'],
    ]);
    expect(Object.getPrototypeOf(seen?.queryStringParameters)).to.equal(null);
    expect(Object.getPrototypeOf(seen?.headers)).to.equal(null);
    expect(({} as Record<string, unknown>).p).to.equal(undefined);
    expect(body).to.deep.equal(Buffer.from([0xff, 0xd8, 0x00]));
  });

  it('delivers a text-typed body as UTF-8, its other bytes replaced, and a binary one as sent', async () => {
    const bodies: Buffer[] = [];
    current = async (event, stream) => {
      bodies.push(await text(event));
      stream.end();
    };
    const bytes = Buffer.from([0x61, 0xff, 0xc3, 0xa9, 0x62]);
    await fetchAll('/', { method: 'PUT', headers: { 'Content-Type': 'text/plain; charset=latin1' }, body: bytes });
    await fetchAll('/', { method: 'PUT', headers: { 'Content-Type': 'application/vnd.api+json' }, body: bytes });
    await fetchAll('/', { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: bytes });
    const replaced = Buffer.from([0x61, 0xef, 0xbf, 0xbd, 0xc3, 0xa9, 0x62]);
    expect(bodies).to.deep.equal([replaced, replaced, bytes]);
  });

  it('fails the body stream with 413 too_large past maxBodyBytes when no length was declared', async () => {
    let failure: unknown;
    current = async (event, stream) => {
      failure = await text(event).catch((error: unknown) => error);
      awslambda.HttpResponseStream.from(stream, { statusCode: 413, headers: {} }).write('');
      stream.end();
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${url}/`, { method: 'POST', agent: false }, resolve);
      req.on('error', () => {});
      req.on('close', () => reject(new Error('closed without an answer')));
      // Chunked: no Content-Length to refuse up front.
      req.write(Buffer.alloc(800));
      req.write(Buffer.alloc(800));
    });
    res.resume();
    expect(res.statusCode).to.equal(413);
    // The rest of the body is never read: the connection does not stay open for it.
    expect(res.headers.connection).to.equal('close');
    expect(failure).to.be.instanceOf(HttpError).with.property('code', 'too_large');
  });

  it('takes status, headers and cookies from the HttpResponseStream.from prelude, and the rest as the body', async () => {
    current = async (_event, stream) => {
      const out = awslambda.HttpResponseStream.from(stream, {
        statusCode: 418,
        headers: { 'Content-Type': 'text/plain', 'X-Custom': 'yes' },
        cookies: ['a=1; Path=/', 'b=2'],
      });
      out.write('hello ');
      out.write('world');
      out.end();
    };
    const { res, body } = await fetchAll('/');
    expect(res.statusCode).to.equal(418);
    expect(res.headers).to.include({ 'content-type': 'text/plain', 'x-custom': 'yes' });
    expect(res.headers['set-cookie']).to.deep.equal(['a=1; Path=/', 'b=2']);
    expect(body).to.equal('hello world');
  });

  it("reproduces the runtime's quirk: the prelude is sent by write(), not by end(chunk) (502) or a bare end() (200)", async () => {
    current = async (_event, stream) => {
      awslambda.HttpResponseStream.from(stream, { statusCode: 404, headers: { 'X-Foo': 'bar' } }).end('Not Found');
    };
    expect((await fetchAll('/')).res.statusCode).to.equal(502);
    current = async (_event, stream) => {
      awslambda.HttpResponseStream.from(stream, { statusCode: 404, headers: { 'X-Foo': 'bar' } }).end();
    };
    const bare = await fetchAll('/');
    expect(bare.res.statusCode).to.equal(200);
    expect(bare.res.headers['x-foo']).to.equal(undefined);
  });

  it('passes a plain stream through as 200 with its content type, and answers 502 when the handler throws first', async () => {
    current = async (_event, stream) => {
      stream.setContentType('text/csv');
      await pipeline(Readable.from(['a,b\n', '1,2\n']), stream);
    };
    const plain = await fetchAll('/');
    expect(plain.res.statusCode).to.equal(200);
    expect(plain.res.headers['content-type']).to.equal('text/csv');
    expect(plain.body).to.equal('a,b\n1,2\n');

    current = async () => {
      throw new Error('boom');
    };
    expect((await fetchAll('/')).res.statusCode).to.equal(502);
  });

  it('delivers the first bytes while the handler is still running (no buffering)', async () => {
    // The handler writes its second line only once the client has the first: buffering would deadlock.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = false;
    current = async (_event, stream) => {
      const out = awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: {} });
      out.write('first\n');
      await released;
      out.write('second\n');
      out.end();
      finished = true;
    };
    const res = await open('/');
    const iterator = (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value.toString()).to.equal('first\n');
    expect(finished).to.equal(false);
    release();
    let rest = '';
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest += next.value.toString();
    expect(rest).to.equal('second\n');
  });

  it('holds the handler back while the client does not read (backpressure, constant memory)', async () => {
    let produced = 0;
    current = async (_event, stream) => {
      const out = awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: {} });
      async function* body() {
        for (let i = 0; i < 4096; i += 1) {
          produced += 64 * 1024;
          yield Buffer.alloc(64 * 1024);
        }
      }
      await pipeline(Readable.from(body()), out).catch(() => {});
    };
    const res = await open('/');
    res.pause();
    await sleep(300);
    // 256 MB on offer; only socket and stream buffers' worth may have been produced.
    expect(produced).to.be.lessThan(16 * 1024 * 1024);
    res.destroy();
  });

  it('does not end a stream the handler left open, as the runtime: 502 before the prelude, a cut response after it', async () => {
    current = async () => {};
    const silent = await fetchAll('/');
    expect(silent.res.statusCode).to.equal(502);
    current = async (_event, stream) => {
      awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: { 'Content-Type': 'text/plain' } }).write(
        'partial',
      );
    };
    const res = await open('/');
    expect(res.statusCode).to.equal(200);
    const outcome = await new Promise<string>((resolve) => {
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
      res.on('end', () => resolve(res.complete ? 'complete' : 'cut'));
      res.resume();
    });
    expect(outcome).to.equal('cut');
  });

  it('refuses a body over maxBodyBytes with 413 too_large before calling the handler', async () => {
    let called = false;
    current = async (_event, stream) => {
      called = true;
      stream.end();
    };
    const { res, body } = await fetchAll('/', { method: 'POST', body: Buffer.alloc(2048) });
    expect(res.statusCode).to.equal(413);
    expect(JSON.parse(body)).to.include({ status: 413, code: 'too_large' });
    expect(called).to.equal(false);
  });

  it('marks streamified handlers as the runtime does and leaves members the runtime already has', async () => {
    const marked = awslambda.streamifyResponse(async () => {});
    expect((marked as unknown as Record<symbol, unknown>)[STREAMING_HANDLER]).to.equal('response');
    const before = awslambda.HttpResponseStream;
    installStreamingShim();
    expect(awslambda.HttpResponseStream).to.equal(before);

    const { handler } = await import('../../src/entry/api.js');
    const { createApiHandler } = await import('../../src/api/app.js');
    expect((handler as unknown as Record<symbol, unknown>)[STREAMING_HANDLER]).to.equal('response');
    expect(createApiHandler).to.be.a('function');
  });
});
