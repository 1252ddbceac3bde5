/**
 * `edge-resizer smoke --url <distribution URL>`: a post-deploy check of a live
 * stack (or the local CDN) through its public doors only, with plain `fetch`:
 * a miss and its hit, format negotiation by `Accept`, a preset, a bad
 * parameter's JSON error, an oversized derivative's 302, signed URLs, a staged
 * upload and its abort. One line per step with its time; a step that cannot
 * apply (no token, no presets, signing off) is skipped, never failed.
 *
 * Everything it creates lives under `_smoke/<run>/`, a prefix no user key can
 * take, and is deleted at the end, also when a step failed.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { SMOKE_KEY_PREFIX } from '../core/keys.js';
import { signUrl } from '../core/signing.js';
import { CliError, describeFailure, EXIT, env } from './common.js';
import { stagedUpload } from './staged-upload.js';

export interface SmokeOptions {
  url: string;
  apiUrl?: string;
  token?: string;
  signingSecret?: string;
  json?: boolean;
  timeout: string;
}

export type StepStatus = 'ok' | 'failed' | 'skipped';
export interface StepLine {
  step: string;
  status: StepStatus;
  ms: number;
  detail: string;
}

/** A Lambda@Edge generated response is at most 1 MB, base64 included: this PNG of noise is well past it. */
const NOISE_SIDE = 700;
const JSON_TYPE = /^application\/json\b/;
const HIT = /^(Hit|RefreshHit) from cloudfront$/i;

class Skip extends Error {}
class Failure extends Error {}

const skip = (reason: string): never => {
  throw new Skip(reason);
};
const fail = (reason: string): never => {
  throw new Failure(reason);
};
const check = (condition: unknown, reason: string) => {
  if (!condition) fail(reason);
};
/** Fails with the answer's JSON error unless its status is one of `statuses` (the body is read only then). */
async function expectStatus(response: Response, statuses: number[], what: string): Promise<void> {
  if (!statuses.includes(response.status)) fail(`${what}: ${await describeFailure(response)}`);
}

export async function smoke(options: SmokeOptions): Promise<number> {
  const base = baseUrl(options.url, '--url');
  const apiBase = baseUrl(options.apiUrl ?? options.url, '--api-url');
  const timeoutMs = Number(options.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new CliError(`--timeout takes a number of seconds, not '${options.timeout}'`, EXIT.usage);
  }
  const token = options.token ?? env('API_TOKEN');
  const secret = options.signingSecret ?? env('SIGNING_SECRET');
  const run = `${runStamp(new Date())}-${randomBytes(4).toString('hex')}`;
  const prefix = `${SMOKE_KEY_PREFIX}${run}/`;
  const keys = { photo: `${prefix}photo.jpg`, noise: `${prefix}noise.png`, staged: `${prefix}staged.png` };

  const lines: StepLine[] = [];
  const report = (line: StepLine) => {
    lines.push(line);
    if (options.json) process.stdout.write(`${JSON.stringify(line)}\n`);
    else
      process.stderr.write(
        `${line.status.padEnd(7)} ${line.step.padEnd(12)} ${`${line.ms} ms`.padStart(8)}  ${line.detail}\n`,
      );
  };
  const step = async <T>(name: string, work: () => Promise<[T, string]>): Promise<T | undefined> => {
    const started = performance.now();
    let status: StepStatus = 'ok';
    let detail: string;
    let value: T | undefined;
    try {
      [value, detail] = await work();
    } catch (error) {
      status = error instanceof Skip ? 'skipped' : 'failed';
      detail = reasonOf(error);
    }
    report({ step: name, status, ms: Math.round(performance.now() - started), detail });
    return value;
  };

  const send = (url: string, init: RequestInit = {}) =>
    fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(timeoutMs) });
  const api = (path: string, init: RequestInit = {}) => {
    if (!token) return skip('no API token (--token or API_TOKEN)');
    return send(`${apiBase}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
  };
  const keyPath = (key: string) => `/${key.split('/').map(encodeURIComponent).join('/')}`;

  let signing: boolean | undefined;
  /** An image URL, signed for 15 minutes when signing is on. */
  const image = (key: string, query: string) => {
    const url = `${base}${keyPath(key)}?${query}`;
    if (signing !== true) return url;
    if (!secret) return fail('signing is on: pass --signing-secret or set SIGNING_SECRET');
    return signUrl(url, secret, '15m');
  };
  const uploaded = new Set<string>();
  const put = async (key: string, bytes: Buffer) => {
    // Recorded first: an answer lost on the way may still have stored it.
    uploaded.add(key);
    const response = await api(`/api/images${keyPath(key)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(bytes),
    });
    await expectStatus(response, [200, 201], `PUT ${key}`);
    await response.body?.cancel();
  };

  try {
    // An unsigned request for an image that does not exist: signing answers 403 before any lookup
    // or parameter check; unsigned, it is a 404 (or, under presetPolicy only, a 400: no preset).
    await step('signing', async () => {
      const response = await send(`${base}${keyPath(`${prefix}absent.jpg`)}`);
      const body = await errorJson(response);
      if (response.status === 403 && body?.code === 'invalid_signature') {
        signing = true;
        // Nothing else can be checked then: a failure, not a skip.
        check(secret, 'on, and no secret given: pass --signing-secret or set SIGNING_SECRET');
        return [undefined, 'on: URLs are signed with the given secret'];
      }
      check(
        (response.status === 404 && body?.code === 'not_found') ||
          (response.status === 400 && body?.code === 'invalid_param'),
        `expected 404, 400 or 403, got ${describe(response, body)}`,
      );
      signing = false;
      return [undefined, 'off'];
    });

    const settings = await step('settings', async () => {
      const response = await api('/api/settings');
      await expectStatus(response, [200], 'GET /api/settings');
      const value = (await response.json()) as {
        presets?: Record<string, string>;
        presetPolicy?: string;
        autoAvif?: boolean;
      };
      const presets = Object.keys(value.presets ?? {}).length;
      return [
        value,
        `${presets} presets (policy ${value.presetPolicy ?? 'open'}), autoAvif ${value.autoAvif !== false}`,
      ];
    });

    const photo = await step('upload', async () => {
      if (signing && !secret) skip('signing is on and no secret was given');
      await put(keys.photo, await gradientJpeg());
      return [true, keys.photo];
    });

    // With `presetPolicy: only` an image URL may name a preset (and format, dpr) and nothing else.
    const firstPreset = Object.keys(settings?.presets ?? {})[0];
    const presetOnly = settings?.presetPolicy === 'only';
    const variant = (open: string, dpr: string) =>
      presetOnly ? `preset=${encodeURIComponent(firstPreset ?? '')}${dpr && `&dpr=${dpr}`}` : open;
    const missUrl = photo && image(keys.photo, variant('width=320', ''));
    await step('miss', async () => {
      if (!missUrl) return skip('no image was uploaded');
      const response = await send(missUrl, { headers: { accept: 'image/jpeg' } });
      await expectImage(response, 'image/jpeg');
      const timing = response.headers.get('server-timing');
      check(timing?.includes('transform'), `no Server-Timing of a transform (${timing ?? 'none'})`);
      return [undefined, `200 ${response.headers.get('content-type')}, ${cacheOf(response)}, ${timing}`];
    });

    await step('hit', async () => {
      if (!missUrl) return skip('no image was uploaded');
      // A keep-alive connection stays on one edge; a second try covers a request that landed elsewhere.
      let response: Response | undefined;
      for (let attempt = 0; attempt < 3 && !HIT.test(response?.headers.get('x-cache') ?? ''); attempt++) {
        await response?.body?.cancel();
        response = await send(missUrl, { headers: { accept: 'image/jpeg' } });
      }
      await expectImage(response as Response, 'image/jpeg');
      check(
        HIT.test((response as Response).headers.get('x-cache') ?? ''),
        `not a hit: ${cacheOf(response as Response)}`,
      );
      return [undefined, `200, ${cacheOf(response as Response)}`];
    });

    await step('negotiate', async () => {
      if (!photo) return skip('no image was uploaded');
      const avif = settings?.autoAvif === false ? 'image/webp' : 'image/avif';
      const cases: [string, string][] = [
        ['image/avif,image/webp,*/*', avif],
        ['image/webp,*/*', 'image/webp'],
        ['image/jpeg,*/*;q=0.8', 'image/jpeg'],
      ];
      const seen: string[] = [];
      for (const [accept, expected] of cases) {
        const response = await send(image(keys.photo, variant('width=256', '1.5')), { headers: { accept } });
        await expectImage(response, expected);
        const vary = response.headers.get('vary') ?? '';
        check(/(^|,)\s*accept\s*(,|$)/i.test(vary), `Accept ${accept}: no Vary: Accept (${vary || 'none'})`);
        seen.push(expected.slice('image/'.length));
      }
      return [undefined, `${seen.join(', ')} by Accept, each with Vary: Accept`];
    });

    await step('preset', async () => {
      if (!photo) return skip('no image was uploaded');
      if (!settings) return skip('the stage settings are unknown');
      const name = Object.keys(settings.presets ?? {})[0];
      if (name === undefined) return skip('the stage has no presets');
      const response = await send(image(keys.photo, `preset=${encodeURIComponent(name)}`));
      await expectImage(response);
      return [undefined, `preset=${name}: 200 ${response.headers.get('content-type')}`];
    });

    await step('error', async () => {
      if (signing && !secret) skip('signing is on and no secret was given');
      const response = await send(image(keys.photo, 'width=abc'));
      const body = await errorJson(response);
      check(
        response.status === 400 && body?.status === 400 && body.code === 'invalid_param' && body.message,
        `width=abc: expected a 400 invalid_param JSON error, got ${describe(response, body)}`,
      );
      return [undefined, `width=abc: 400 ${body?.code}`];
    });

    await step('redirect', async () => {
      if (!photo) return skip('no image was uploaded');
      if (presetOnly) return skip('the stage allows presets only: no full-size PNG to ask for');
      await put(keys.noise, await noisePng());
      const url = image(keys.noise, 'format=png');
      const first = await send(url);
      await first.body?.cancel();
      const location = first.headers.get('location');
      check(first.status === 302 && location, `expected 302 with a Location, got ${first.status}`);
      check(/no-store/.test(first.headers.get('cache-control') ?? ''), 'the 302 is not Cache-Control: no-store');
      const second = await send(new URL(location as string, url).toString());
      const bytes = await expectImage(second, 'image/png');
      check(bytes > 1024 * 1024, `the stored derivative has ${bytes} bytes, not over 1 MB`);
      return [undefined, `302 then 200 image/png of ${(bytes / 1024 / 1024).toFixed(1)} MB`];
    });

    await step('signed', async () => {
      if (signing === false) return skip('signing is off');
      if (!photo) return skip('no image was uploaded');
      const signed = image(keys.photo, variant('width=128', '2'));
      const good = await send(signed);
      await expectImage(good);
      const unsigned = new URL(signed);
      unsigned.searchParams.delete('sig');
      unsigned.searchParams.delete('exp');
      const tampered = new URL(signed);
      tampered.searchParams.set('exp', String(Number(tampered.searchParams.get('exp')) + 1));
      for (const [what, url] of [
        ['unsigned', unsigned.toString()],
        ['tampered', tampered.toString()],
      ]) {
        const response = await send(url as string);
        const body = await errorJson(response);
        check(response.status === 403, `the ${what} URL got ${describe(response, body)}, not 403`);
      }
      return [undefined, 'signed 200, unsigned 403, tampered 403'];
    });

    await step('staged', async () => {
      if (!token) return skip('no API token (--token or API_TOKEN)');
      if (signing && !secret) skip('signing is on and no secret was given');
      const dir = await mkdtemp(join(tmpdir(), 'edge-resizer-smoke-'));
      try {
        const file = join(dir, 'staged.png');
        const bytes = await gradientPng();
        await writeFile(file, bytes);
        uploaded.add(keys.staged);
        const saved = await stagedUpload({ endpoint: apiBase, token, file, size: bytes.length, key: keys.staged });
        check(saved.key === keys.staged && saved.bytes === bytes.length, `complete answered ${JSON.stringify(saved)}`);
        await expectImage(await send(image(keys.staged, variant('width=64', '1.25'))));
        // An upload that is abandoned: its abort must leave nothing to complete.
        const started = await api('/api/uploads', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: `${prefix}aborted.png`, bytes: bytes.length }),
        });
        await expectStatus(started, [201], 'POST /api/uploads');
        const { uploadId } = (await started.json()) as { uploadId: string };
        const aborted = await api(`/api/uploads/${uploadId}`, { method: 'DELETE' });
        await expectStatus(aborted, [204], 'DELETE /api/uploads/<id>');
        return [undefined, `POST, PUT ${bytes.length} bytes, complete, a derivative 200; another aborted 204`];
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  } finally {
    await step('cleanup', async () => {
      if (!token) return skip('no API token (--token or API_TOKEN)');
      const problems: string[] = [];
      // Runs that died before their own cleanup (a killed process) are swept once an hour old.
      const stale = await staleSmokeKeys(api, Date.now()).catch((error: unknown) => {
        problems.push(`listing ${SMOKE_KEY_PREFIX}: ${reasonOf(error)}`);
        return [] as string[];
      });
      const keys = [...uploaded, ...stale];
      for (const key of keys) {
        const removed = await api(`/api/images${keyPath(key)}`, { method: 'DELETE' }).catch((error: unknown) => error);
        if (!(removed instanceof Response)) problems.push(`DELETE ${key}: ${reasonOf(removed)}`);
        else if (removed.status !== 204 && removed.status !== 404)
          problems.push(`DELETE ${key}: ${await describeFailure(removed)}`);
        else await removed.body?.cancel();
        const left = await api(`/api/images${keyPath(key)}`).catch(() => undefined);
        await left?.body?.cancel();
        if (left?.status !== 404) problems.push(`${key} is still there (${left?.status ?? 'no answer'})`);
      }
      check(problems.length === 0, problems.join('; '));
      const swept = stale.length === 0 ? '' : `, and ${stale.length} left by earlier runs`;
      return [undefined, `${uploaded.size} images under ${prefix} deleted${swept}`];
    });
  }

  const failed = lines.filter((line) => line.status === 'failed').length;
  const skipped = lines.filter((line) => line.status === 'skipped').length;
  if (!options.json) {
    process.stderr.write(`smoke: ${lines.length - failed - skipped} ok, ${skipped} skipped, ${failed} failed\n`);
  }
  return failed === 0 ? EXIT.ok : EXIT.failure;
}

/** A run's id starts with its UTC minute, `YYYYMMDDHHMM`, so a later run can tell an abandoned one. */
const runStamp = (date: Date) => date.toISOString().slice(0, 16).replace(/[-T:]/g, '');
const RUN_ID = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})-[0-9a-f]{8}$/;
/** A run this old is not in progress any more (a whole run takes seconds to minutes). */
const STALE_RUN_MS = 60 * 60 * 1000;

/** Keys under `_smoke/` whose run id is more than an hour old. */
async function staleSmokeKeys(api: (path: string) => Promise<Response>, now: number): Promise<string[]> {
  const response = await api(`/api/images?prefix=${encodeURIComponent(SMOKE_KEY_PREFIX)}`);
  await expectStatus(response, [200], 'GET /api/images');
  const stale: string[] = [];
  for (const line of (await response.text()).split('\n')) {
    if (line.trim() === '') continue;
    const key = (JSON.parse(line) as { key?: unknown }).key;
    if (typeof key !== 'string' || !key.startsWith(SMOKE_KEY_PREFIX)) continue;
    const match = RUN_ID.exec(key.split('/')[1] ?? '');
    if (!match) continue;
    const [, year, month, day, hour, minute] = match.map(Number) as number[];
    const started = Date.UTC(year as number, (month as number) - 1, day, hour, minute);
    if (now - started > STALE_RUN_MS && !stale.includes(key)) stale.push(key);
  }
  return stale;
}

/** `https://d123.cloudfront.net/` → `https://d123.cloudfront.net`; anything but an http(s) origin is bad usage. */
function baseUrl(value: string, option: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${option} takes an http(s) URL, not '${value}'`, EXIT.usage);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new CliError(`${option} takes an http(s) URL without a query, not '${value}'`, EXIT.usage);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Checks a 200 image answer (of `type` when given) and returns its byte count. */
async function expectImage(response: Response, type?: string): Promise<number> {
  const contentType = response.headers.get('content-type') ?? '';
  if (response.status !== 200) fail(`expected 200, got ${describe(response, await errorJson(response))}`);
  const bytes = (await response.arrayBuffer()).byteLength;
  check(contentType.startsWith('image/'), `200 but Content-Type ${contentType || 'none'}`);
  check(type === undefined || contentType === type, `expected ${type}, got ${contentType}`);
  check(bytes > 0, 'an empty image body');
  return bytes;
}

interface ErrorJson {
  status?: unknown;
  code?: unknown;
  message?: unknown;
}

/** A response's JSON error (status, code, message), or undefined when it is not one. */
async function errorJson(response: Response): Promise<ErrorJson | undefined> {
  const text = await response.text().catch(() => '');
  if (!JSON_TYPE.test(response.headers.get('content-type') ?? '')) return undefined;
  try {
    return JSON.parse(text) as ErrorJson;
  } catch {
    return undefined;
  }
}

const describe = (response: Response, body: ErrorJson | undefined) =>
  `${response.status}${typeof body?.code === 'string' ? ` ${body.code}` : ''}`;
const cacheOf = (response: Response) => `X-Cache: ${response.headers.get('x-cache') ?? 'none'}`;

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'no answer in time';
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

/** A smooth photo-like gradient: every modern encoder beats JPEG on it, so negotiation is visible. */
function gradientRaw(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * 3;
      pixels[offset] = Math.round((x / width) * 255);
      pixels[offset + 1] = Math.round((y / height) * 255);
      pixels[offset + 2] = Math.round(128 + 100 * Math.sin((x + y) / 90));
    }
  }
  return pixels;
}

const gradientJpeg = () =>
  sharp(gradientRaw(1200, 800), { raw: { width: 1200, height: 800, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
const gradientPng = () =>
  sharp(gradientRaw(640, 480), { raw: { width: 640, height: 480, channels: 3 } })
    .png()
    .toBuffer();
/** Noise does not compress: its PNG stays about as large as its pixels (1.4 MB here). */
const noisePng = () =>
  sharp(randomBytes(NOISE_SIDE * NOISE_SIDE * 3), { raw: { width: NOISE_SIDE, height: NOISE_SIDE, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
