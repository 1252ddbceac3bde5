/**
 * The runtime harness itself (lambda-runtime.ts), against hand-written
 * handlers: it must be as strict as the Lambda runtime and the function URL,
 * or the packaged-zip tests that stand on it prove nothing.
 */
import { expect } from 'chai';
import {
  FUNCTION_URL_MAX_EVENT_BYTES,
  type FunctionUrl,
  functionUrlEvent,
  installRuntimeGlobal,
  type ResponseStream,
  startFunctionUrl,
} from './lambda-runtime.js';

type Handler = (event: ReturnType<typeof functionUrlEvent>, stream: ResponseStream) => Promise<void>;

describe('deploy/lambda-runtime (the Lambda runtime and function URL harness)', () => {
  let restore: () => void;
  let current: Handler;
  let url: FunctionUrl;
  const runtime = () =>
    (
      globalThis as unknown as {
        awslambda: {
          streamifyResponse(h: Handler): Handler;
          HttpResponseStream: { from(s: ResponseStream, p: unknown): ResponseStream };
        };
      }
    ).awslambda;

  before(async () => {
    restore = installRuntimeGlobal();
    url = await startFunctionUrl(runtime().streamifyResponse((event, stream) => current(event, stream)) as never);
  });
  after(async () => {
    await url.close();
    restore();
  });

  it('frames status, headers and cookies from the prelude, the body after the 8 NUL bytes', async () => {
    current = async (_event, stream) => {
      const out = runtime().HttpResponseStream.from(stream, {
        statusCode: 201,
        headers: { 'X-A': 'b' },
        cookies: ['c=d'],
      });
      out.write('hello ');
      out.write(Buffer.from('world'));
      await new Promise((resolve) => out.end(resolve));
    };
    const response = await url.invoke({ method: 'GET', url: '/x' });
    expect(response).to.include({ status: 201, truncated: false, writes: 2 });
    expect(response.headers).to.deep.equal({ 'x-a': 'b' });
    expect(response.cookies).to.deep.equal(['c=d']);
    expect(response.body.toString()).to.equal('hello world');
  });

  it('sends no prelude for end(chunk) without a write, as the runtime (a 502 at the function URL)', async () => {
    current = async (_event, stream) => {
      const out = runtime().HttpResponseStream.from(stream, { statusCode: 404 });
      // The runtime's end() takes a callback only: the chunk goes out as the end's data, past the prelude.
      out.end(Buffer.from('{"a":1}') as never);
      await new Promise((resolve) => out.once('finish', resolve));
    };
    const response = await url.invoke({ method: 'GET', url: '/x' });
    expect(response.status).to.equal(502);
  });

  it('fails an invocation whose stream is not finished when the handler settles', async () => {
    current = async (_event, stream) => {
      runtime().HttpResponseStream.from(stream, { statusCode: 200 }).write('partial');
    };
    const response = await url.invoke({ method: 'GET', url: '/x' });
    expect(response.error).to.equal('Runtime.InvalidStreamingOperation');
    expect(response.truncated).to.equal(true);
  });

  it('refuses setContentType after the first write', async () => {
    let thrown: unknown;
    current = async (_event, stream) => {
      stream.write('x');
      try {
        stream.setContentType('text/plain');
      } catch (error) {
        thrown = error;
      }
      await new Promise((resolve) => stream.end(resolve));
    };
    const response = await url.invoke({ method: 'GET', url: '/x' });
    expect(String(thrown)).to.include('too late');
    expect(response).to.include({ status: 200 });
    expect(response.headers['content-type']).to.equal('application/octet-stream');
  });

  it('builds payload format 2.0: lower-case headers, cookies, raw path and query, binary bodies base64, text as UTF-8', () => {
    const binary = functionUrlEvent({
      method: 'PUT',
      url: '/api/images/a.jpg?x=1&x=2',
      headers: { 'Content-Type': 'image/jpeg', Cookie: 'a=1; b=2', 'X-Meta-Author': 'Ana' },
      body: Buffer.from([0xff, 0xd8, 0xff]),
    });
    expect(binary).to.include({
      rawPath: '/api/images/a.jpg',
      rawQueryString: 'x=1&x=2',
      isBase64Encoded: true,
      body: '/9j/',
    });
    expect(binary.headers).to.include({ 'content-type': 'image/jpeg', 'x-meta-author': 'Ana' });
    expect(binary.cookies).to.deep.equal(['a=1', 'b=2']);
    expect(binary.queryStringParameters).to.deep.equal({ x: '1,2' });
    expect(binary.requestContext.http.method).to.equal('PUT');
    const text = functionUrlEvent({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0xff, 0x7d]),
    });
    expect(text).to.include({ isBase64Encoded: false, body: '{\ufffd}' });
  });

  it('refuses an event over 6 MB with 413 before the function runs', async () => {
    let ran = false;
    current = async (_event, stream) => {
      ran = true;
      await new Promise((resolve) => stream.end(resolve));
    };
    const body = Buffer.alloc(Math.ceil((FUNCTION_URL_MAX_EVENT_BYTES / 4) * 3), 1);
    const response = await url.invoke({ method: 'PUT', url: '/x', headers: { 'content-type': 'image/png' }, body });
    expect(response.status).to.equal(413);
    expect(ran).to.equal(false);
  });
});
