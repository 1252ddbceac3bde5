/**
 * The bad-input matrix over the whole HTTP surface of the local CDN (image
 * URLs, API, originals): each row asserts the exact status and code, a JSON
 * body, and that nothing leaks (stack, path on disk, bucket name, AWS text).
 * Uploads that fail must store nothing.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseMasterKey } from '../../src/core/envelope.js';
import { deriveTokenKey, sealToken } from '../../src/core/tokens.js';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { fixture } from '../helpers/images.js';
import { assertNoLeak } from '../helpers/leaks.js';

interface Row {
  name: string;
  method?: string;
  path: string | (() => string);
  headers?: Record<string, string>;
  body?: Buffer;
  auth?: 'good' | 'bad' | 'none';
  status: number;
  code: string;
}

const MAX_ORIGINAL_BYTES = 2 * 1024 * 1024;

describe('bad input across the HTTP surface', () => {
  let dataDir: string;
  let server: LocalServer;
  let tokenKey: Buffer;
  let validOriginal: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-bad-'));
    server = await startLocalServer({
      dataDir,
      port: 0,
      logLevel: 'silent',
      seedSamples: false,
      config: { limits: { maxOriginalBytes: MAX_ORIGINAL_BYTES } },
    });
    tokenKey = deriveTokenKey(parseMasterKey(await readFile(join(dataDir, 'master.key'))));
    const put = await send(
      'PUT',
      '/api/images/ok/photo.jpg',
      { authorization: `Bearer ${server.apiToken}` },
      fixture('photos/fig.jpg'),
    );
    expect(put.status).to.equal(201);
    const info = JSON.parse(
      (await send('GET', '/api/images/ok/photo.jpg', { authorization: `Bearer ${server.apiToken}` })).body.toString(),
    );
    validOriginal = info.originalUrl;
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Raw HTTP, so paths reach the server exactly as written (fetch would normalize `..`). */
  function send(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) {
    const url = new URL(server.url);
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
      (resolve, reject) => {
        const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        });
        req.on('error', reject);
        req.end(body);
      },
    );
  }

  const long = (n: number) => 'a'.repeat(n);
  const rows: Row[] = [
    // Image URLs
    { name: 'non-numeric width', path: '/ok/photo.jpg?width=abc', status: 400, code: 'invalid_param' },
    { name: 'huge width', path: '/ok/photo.jpg?width=99999999999999999999', status: 400, code: 'invalid_param' },
    { name: 'width over maxDimension', path: '/ok/photo.jpg?width=4097', status: 400, code: 'invalid_param' },
    { name: 'negative height', path: '/ok/photo.jpg?height=-1', status: 400, code: 'invalid_param' },
    { name: 'fractional width', path: '/ok/photo.jpg?width=10.5', status: 400, code: 'invalid_param' },
    { name: 'quality 0', path: '/ok/photo.jpg?quality=0', status: 400, code: 'invalid_param' },
    { name: 'unknown fit', path: '/ok/photo.jpg?fit=stretch', status: 400, code: 'invalid_param' },
    { name: 'unknown format', path: '/ok/photo.jpg?format=bmp', status: 400, code: 'invalid_param' },
    { name: 'dpr out of range', path: '/ok/photo.jpg?dpr=10', status: 400, code: 'invalid_param' },
    { name: 'width × dpr over the limit', path: '/ok/photo.jpg?width=3000&dpr=2', status: 400, code: 'invalid_param' },
    { name: 'repeated parameter', path: '/ok/photo.jpg?width=10&width=20', status: 400, code: 'invalid_param' },
    { name: 'empty segment', path: '/ok//photo.jpg', status: 400, code: 'invalid_key' },
    { name: 'dot-dot segment', path: '/ok/../photo.jpg', status: 400, code: 'invalid_key' },
    { name: 'percent-encoded traversal', path: '/%2e%2e/%2e%2e/etc/passwd', status: 400, code: 'invalid_key' },
    { name: 'encoded slash traversal', path: '/ok%2f..%2f..%2fsecret', status: 400, code: 'invalid_key' },
    { name: 'double-encoded traversal', path: '/%252e%252e/secret.jpg', status: 400, code: 'invalid_key' },
    { name: 'unicode key', path: '/ok/caf%C3%A9.jpg', status: 400, code: 'invalid_key' },
    { name: 'NUL byte in key', path: '/ok/%00.jpg', status: 400, code: 'invalid_key' },
    { name: 'broken percent-encoding', path: '/ok/%zz.jpg', status: 400, code: 'invalid_key' },
    { name: 'overlong key', path: `/${long(600)}.jpg`, status: 400, code: 'invalid_key' },
    { name: 'reserved prefix', path: '/_private/x.jpg', status: 400, code: 'invalid_key' },
    { name: 'missing original', path: '/ok/missing.jpg?width=10', status: 404, code: 'not_found' },
    { name: 'POST to an image URL', method: 'POST', path: '/ok/photo.jpg', status: 405, code: 'method_not_allowed' },
    {
      name: 'DELETE to an image URL',
      method: 'DELETE',
      path: '/ok/photo.jpg',
      status: 405,
      code: 'method_not_allowed',
    },
    {
      name: 'overlong header',
      path: '/ok/photo.jpg?width=10',
      headers: { 'x-junk': long(20_000) },
      status: 431,
      code: 'headers_too_large',
    },
    // API
    {
      name: 'upload without a token',
      method: 'POST',
      path: '/api/images',
      auth: 'none',
      body: fixture('photos/fig.jpg'),
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'upload with a wrong token',
      method: 'POST',
      path: '/api/images',
      auth: 'bad',
      body: fixture('photos/fig.jpg'),
      status: 403,
      code: 'forbidden',
    },
    { name: 'listing with a wrong token', path: '/api/images', auth: 'bad', status: 403, code: 'forbidden' },
    {
      name: 'SVG upload',
      method: 'POST',
      path: '/api/images',
      auth: 'good',
      body: fixture('edge/image.svg'),
      status: 415,
      code: 'unsupported_format',
    },
    {
      name: 'text upload labelled image/jpeg',
      method: 'POST',
      path: '/api/images',
      auth: 'good',
      headers: { 'content-type': 'image/jpeg' },
      body: fixture('edge/not-an-image.jpg'),
      status: 415,
      code: 'unsupported_format',
    },
    {
      name: 'zero-byte upload',
      method: 'POST',
      path: '/api/images',
      auth: 'good',
      body: Buffer.alloc(0),
      status: 422,
      code: 'corrupt_image',
    },
    {
      name: 'truncated JPEG upload',
      method: 'PUT',
      path: '/api/images/bad/truncated.jpg',
      auth: 'good',
      body: fixture('edge/truncated.jpg'),
      status: 422,
      code: 'corrupt_image',
    },
    {
      name: 'corrupt bytes after a JPEG header',
      method: 'PUT',
      path: '/api/images/bad/corrupt.jpg',
      auth: 'good',
      body: Buffer.concat([fixture('photos/fig.jpg').subarray(0, 600), Buffer.alloc(5000, 0x55)]),
      status: 422,
      code: 'corrupt_image',
    },
    {
      name: 'decompression bomb upload',
      method: 'PUT',
      path: '/api/images/bad/bomb.png',
      auth: 'good',
      body: fixture('edge/bomb.png'),
      status: 413,
      code: 'too_large',
    },
    {
      name: 'upload over maxOriginalBytes',
      method: 'PUT',
      path: '/api/images/bad/huge.jpg',
      auth: 'good',
      body: Buffer.alloc(MAX_ORIGINAL_BYTES + 1, 0xff),
      status: 413,
      code: 'too_large',
    },
    {
      name: 'upload to a traversal key',
      method: 'PUT',
      path: '/api/images/..%2F..%2Fetc%2Fpasswd',
      auth: 'good',
      body: fixture('photos/fig.jpg'),
      status: 400,
      code: 'invalid_key',
    },
    {
      name: 'upload to an overlong key',
      method: 'PUT',
      path: `/api/images/${long(600)}.jpg`,
      auth: 'good',
      body: fixture('photos/fig.jpg'),
      status: 400,
      code: 'invalid_key',
    },
    {
      name: 'upload with a bad X-Meta name',
      method: 'PUT',
      path: '/api/images/bad/meta.jpg',
      auth: 'good',
      headers: { 'x-meta-bad^name': 'x' },
      body: fixture('photos/fig.jpg'),
      status: 400,
      code: 'invalid_param',
    },
    {
      name: 'PATCH of an image without a body',
      method: 'PATCH',
      path: '/api/images/ok/photo.jpg',
      auth: 'good',
      status: 400,
      code: 'invalid_param',
    },
    {
      name: 'PATCH with a focal point out of range',
      method: 'PATCH',
      path: '/api/images/ok/photo.jpg',
      auth: 'good',
      body: Buffer.from('{"focalPoint":{"x":1.5,"y":0.5}}'),
      status: 400,
      code: 'invalid_param',
    },
    {
      name: 'PATCH with a __proto__ body',
      method: 'PATCH',
      path: '/api/images/ok/photo.jpg',
      auth: 'good',
      body: Buffer.from('{"__proto__":{"focalPoint":null}}'),
      status: 400,
      code: 'invalid_param',
    },
    {
      name: 'PATCH of a missing image',
      method: 'PATCH',
      path: '/api/images/ok/missing.jpg',
      auth: 'good',
      body: Buffer.from('{"focalPoint":null}'),
      status: 404,
      code: 'not_found',
    },
    {
      name: 'upload with a bad X-Focal-Point',
      method: 'PUT',
      path: '/api/images/ok/focal.jpg',
      auth: 'good',
      headers: { 'x-focal-point': '0.5,2' },
      body: fixture('photos/fig.jpg'),
      status: 400,
      code: 'invalid_param',
    },
    {
      name: 'an unauthenticated upload',
      method: 'POST',
      path: '/api/images',
      auth: 'none',
      body: fixture('photos/fig.jpg'),
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'metadata of a missing image',
      path: '/api/images/ok/missing.jpg',
      auth: 'good',
      status: 404,
      code: 'not_found',
    },
    // Originals
    { name: 'garbage originals token', path: '/originals/not-a-token', status: 403, code: 'forbidden' },
    { name: 'tampered originals token', path: () => tamper(validOriginal), status: 403, code: 'forbidden' },
    {
      name: 'expired originals token',
      path: () =>
        `/originals/${sealToken({ key: 'ok/photo.jpg', version: 1, id: 'x', exp: Math.floor(Date.now() / 1000) - 10 }, tokenKey)}`,
      status: 403,
      code: 'expired',
    },
    {
      name: 'token for a missing original',
      path: () =>
        `/originals/${sealToken({ key: 'ok/missing.jpg', version: 1, id: 'x', exp: Math.floor(Date.now() / 1000) + 60 }, tokenKey)}`,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'unsatisfiable range',
      path: () => validOriginal,
      headers: { range: 'bytes=99999999-' },
      status: 416,
      code: 'range_not_satisfiable',
    },
    { name: 'POST to originals', method: 'POST', path: () => validOriginal, status: 405, code: 'method_not_allowed' },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.status} ${row.code}`, async () => {
      const headers: Record<string, string> = { ...row.headers };
      if (row.auth === 'good') headers.authorization = `Bearer ${server.apiToken}`;
      if (row.auth === 'bad') headers.authorization = 'Bearer not-the-token';
      const path = typeof row.path === 'function' ? row.path() : row.path;
      const response = await send(row.method ?? 'GET', path, headers, row.body);
      expect(response.status, response.body.toString().slice(0, 300)).to.equal(row.status);
      expect(response.headers['content-type']).to.match(/^application\/json/);
      const body = JSON.parse(response.body.toString('utf8'));
      expect(body).to.include({ status: row.status, code: row.code });
      expect(body.message).to.be.a('string').that.is.not.empty;
      assertNoLeak(response.body.toString('utf8'), server, dataDir);
      if (row.status === 401) expect(response.headers['www-authenticate']).to.match(/^Bearer/);
    });
  }

  it('stored nothing for the refused uploads', async () => {
    const listing = await send('GET', '/api/images', { authorization: `Bearer ${server.apiToken}` });
    const keys = listing.body
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line).key);
    expect(keys).to.deep.equal(['ok/photo.jpg']);
    for (const key of ['bad/truncated.jpg', 'bad/bomb.png', 'bad/huge.jpg', 'bad/meta.jpg', 'bad/corrupt.jpg']) {
      const image = await send('GET', `/${key}?width=10`);
      expect(image.status, key).to.equal(404);
    }
  });
});

function tamper(originalUrl: string): string {
  const token = originalUrl.slice('/originals/'.length);
  const middle = Math.floor(token.length / 2);
  const flipped = token[middle] === 'A' ? 'B' : 'A';
  return `/originals/${token.slice(0, middle)}${flipped}${token.slice(middle + 1)}`;
}
