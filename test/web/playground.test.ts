/**
 * The designers' playground (web/), driven in a real Chromium against the real
 * local CDN: the page, the API, the image URLs and the token endpoint are the
 * ones `npm start` serves. Needs /usr/bin/chromium (CI: `apt-get install -y
 * chromium`) and web/dist (`npm run build:web`; built here if missing).
 * Screenshots go to test-output/web/; UPDATE_SCREENSHOTS=1 also copies the
 * desktop and phone ones to docs/.
 */

import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = join(ROOT, 'test-output', 'web');
const FIXTURE = join(ROOT, 'fixtures', 'photos', 'fig.jpg');
/** What Chromium sends for an `<img>`; the preview fetch sends the same. */
const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
const DESKTOP = { width: 1280, height: 800 };
const CARD_PRESET = 'width=320&height=180&gravity=attention';
/** The quadrants of the generated image: top-left, top-right, bottom-left, bottom-right. */
const QUADRANTS = {
  tl: [230, 30, 30],
  tr: [30, 200, 60],
  bl: [40, 60, 230],
  br: [240, 220, 40],
} as const;
const PHONE = { width: 375, height: 812 };

interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions, as text. */
  errors: string[];
}

describe('web/playground (in Chromium, against the local CDN)', function () {
  this.timeout(90_000);

  let dataDir: string;
  let server: LocalServer;
  let browser: Browser;
  const opened: BrowserContext[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `The browser tests need Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`,
      );
    }
    if (!existsSync(join(ROOT, 'web', 'dist', 'index.html'))) {
      const { build } = await import('vite');
      await build({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'warn' });
    }
    await mkdir(OUTPUT, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'edge-resizer-web-'));
    server = await startLocalServer({
      dataDir,
      port: 0,
      logLevel: 'silent',
      seedSamples: true,
      config: { presets: { card: CARD_PRESET, square: 'width=200&height=200&fit=cover' } },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function open(options: { viewport?: typeof DESKTOP; image?: string } = {}): Promise<OpenedPage> {
    // Reduced motion: no fade-ins half way through a screenshot.
    const context = await browser.newContext({
      viewport: options.viewport ?? DESKTOP,
      deviceScaleFactor: 1,
      reducedMotion: 'reduce',
    });
    opened.push(context);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    const hash = options.image ? `#image=${encodeURIComponent(options.image)}` : '';
    await page.goto(`${server.url}/${hash}`);
    return { context, page, errors };
  }

  /** Waits until variant `which` shows the image fetched from a URL containing every part. */
  async function previewLoaded(page: Page, parts: string[], which: 'a' | 'b' = 'a') {
    await page.waitForFunction(
      ({ id, parts }) => {
        const figure = document.getElementById(id);
        const img = figure?.querySelector<HTMLImageElement>('img.preview');
        const src = img?.dataset.src ?? '';
        return (
          !!img &&
          img.classList.contains('loaded') &&
          !figure?.hasAttribute('aria-busy') &&
          parts.every((part) => src.includes(part)) &&
          // Defaults are left out of the URL, so "no width" means no `width=` at all.
          (parts.some((part) => part.startsWith('width=')) || !src.includes('width='))
        );
      },
      { id: `variant-${which}`, parts },
      { timeout: 30_000 },
    );
    return page.evaluate((id) => {
      // No named helpers in here: tsx would wrap them in a `__name` call the page does not have.
      const figure = document.getElementById(id) as HTMLElement;
      const img = figure.querySelector('img.preview') as HTMLImageElement;
      const stats: Record<string, HTMLElement> = {};
      for (const dd of figure.querySelectorAll<HTMLElement>('[data-stat]')) stats[dd.dataset.stat as string] = dd;
      return {
        url: img.dataset.src as string,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        pixels: stats.pixels?.textContent,
        bytes: Number(stats.bytes?.dataset.bytes),
        format: stats.format?.textContent ?? '',
        cache: stats.cache?.dataset.cache,
        timings: [...(stats.timing?.querySelectorAll<HTMLElement>('[data-timing]') ?? [])].map(
          (li) => li.dataset.timing,
        ),
      };
    }, `variant-${which}`);
  }

  async function fetchImage(path: string) {
    const response = await fetch(`${server.url}${path}`, { headers: { accept: IMAGE_ACCEPT } });
    const body = Buffer.from(await response.arrayBuffer());
    return { response, body, meta: await sharp(body).metadata() };
  }

  it('loads with no console errors, lists the images as they stream in, and keeps the token out of the page', async () => {
    const { page, errors } = await open();

    await page.locator('.card').nth(5).waitFor();
    const first = await previewLoaded(page, []);

    expect(await page.locator('.card').count()).to.equal(6);
    expect(await page.locator('#token-state').textContent()).to.match(/local CDN/);
    expect(first.naturalWidth).to.be.greaterThan(0);
    expect(await page.content()).not.to.include(server.apiToken);
    const storage = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }));
    expect(storage).to.deep.equal({ session: 0, local: 0 });
    await page.waitForLoadState('networkidle');
    expect(errors).to.deep.equal([]);
  });

  it('renders each card and the preview over its ThumbHash placeholder while the image loads', async () => {
    const { page } = await open({ image: 'samples/fig.jpg' });
    await previewLoaded(page, []);
    // Hold the next preview back so the placeholder can be seen.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(
      (url) => url.pathname === '/samples/fig.jpg' && url.search.includes('width=333'),
      async (route) => {
        await held;
        await route.continue();
      },
    );

    await page.locator('#width-number').fill('333');

    const placeholder = page.locator('#variant-a img.placeholder');
    await placeholder.waitFor({ state: 'visible' });
    expect(await placeholder.getAttribute('src')).to.match(/^data:image\/png;base64,/);
    expect(await page.locator('#variant-a img.preview').evaluate((img) => img.classList.contains('loaded'))).to.equal(
      false,
    );
    const cardBackground = await page
      .locator('.card[data-key="samples/fig.jpg"] .thumb')
      .evaluate((el) => el.style.backgroundImage);
    expect(cardBackground).to.match(/^url\("data:image\/png;base64,/);
    release();
    const loaded = await previewLoaded(page, ['width=333']);
    expect(loaded.naturalWidth).to.equal(333);
    expect(await placeholder.isHidden()).to.equal(true);
  });

  it('uploads a photo picked with the file picker, with progress, and lists and selects it', async () => {
    const { page } = await open();
    await page.locator('.card').first().waitFor();
    const uploaded = page.waitForResponse((r) => r.url().endsWith('/api/images') && r.request().method() === 'POST');

    await page.setInputFiles('#file-input', FIXTURE);

    expect((await uploaded).status()).to.equal(201);
    const card = page.locator('.card[aria-pressed="true"]');
    await page.waitForFunction(() => {
      const selected = document.querySelector<HTMLElement>('.card[aria-pressed="true"]');
      return !!selected && !selected.dataset.key?.startsWith('samples/');
    });
    expect(await card.locator('.card-name').textContent()).to.equal('fig.jpg');
    const key = (await card.getAttribute('data-key')) as string;
    expect(key).to.match(/^[^/]+\.jpg$/);
    expect(await page.locator('.card').first().getAttribute('data-key')).to.equal(key);
    const stored = await fetch(`${server.url}/api/images/${key}`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    const body = (await stored.json()) as { width: number; meta: Record<string, string> };
    expect(body.meta).to.include({ filename: 'fig.jpg' });
    expect(
      await page
        .locator('.upload progress')
        .first()
        .evaluate((p) => (p as HTMLProgressElement).value),
    ).to.equal(1);
    const preview = await previewLoaded(page, [`/${key}`]);
    expect(preview.naturalWidth).to.equal(body.width);
    // And it is there for the next visitor too.
    const { page: again } = await open();
    await again.locator(`.card[data-key="${key}"]`).waitFor();
  });

  it('uploads a file over 5 MB through the staged multipart path, with a byte progress bar, the same bytes stored', async () => {
    const side = 1600; // raw noise, uncompressed: about 7.7 MB
    const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(png.length).to.be.above(5 * 1024 * 1024);
    const { page, errors } = await open();
    await page.locator('.card').first().waitFor();
    const parts: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PUT') parts.push(new URL(r.url()).pathname);
    });
    const created = page.waitForResponse((r) => r.url().endsWith('/api/uploads') && r.request().method() === 'POST');
    const completed = page.waitForResponse((r) => /\/api\/uploads\/[^/]+\/complete$/.test(r.url()), {
      timeout: 60_000,
    });

    await page.setInputFiles('#file-input', { name: 'noise.png', mimeType: 'image/png', buffer: png });

    expect((await created).status()).to.equal(201);
    const done = await completed;
    expect(done.status()).to.equal(201);
    const { key } = (await done.json()) as { key: string };
    expect(parts.length).to.be.at.least(1);
    expect(parts.every((path) => path.startsWith('/_local/s3/'))).to.equal(true);
    await page.locator(`.card[data-key="${key}"][aria-pressed="true"]`).waitFor();
    expect(await page.locator('.upload').first().getAttribute('data-path')).to.equal('staged');
    expect(
      await page
        .locator('.upload progress')
        .first()
        .evaluate((p) => (p as HTMLProgressElement).value),
    ).to.equal(1);
    const stored = await fetch(`${server.url}/api/images/${key}`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    const item = (await stored.json()) as {
      bytes: number;
      meta: Record<string, string>;
      versions: { sha256: string }[];
    };
    expect(item.bytes).to.equal(png.length);
    expect(item.versions.at(-1)?.sha256).to.equal(createHash('sha256').update(png).digest('hex'));
    expect(item.meta).to.include({ filename: 'noise.png' });
    expect(errors).to.deep.equal([]);
  });

  it('requests a new URL when the width control moves, and shows the new natural width', async () => {
    const { page } = await open({ image: 'samples/mountains.jpg' });
    await previewLoaded(page, ['/samples/mountains.jpg']);

    const requested = page.waitForRequest((r) => r.url() === `${server.url}/samples/mountains.jpg?width=400`);
    await page.locator('#width-range').fill('400');
    await requested;
    const at400 = await previewLoaded(page, ['width=400']);

    expect(at400.url).to.equal('/samples/mountains.jpg?width=400');
    expect(at400.naturalWidth).to.equal(400);
    expect(at400.naturalHeight).to.equal(300);
    expect(at400.pixels).to.equal('400×300');

    await page.locator('#width-number').fill('250');
    const at250 = await previewLoaded(page, ['width=250']);
    expect(at250.naturalWidth).to.equal(250);

    await page.locator('#dpr').selectOption('2');
    const atDpr2 = await previewLoaded(page, ['width=250', 'dpr=2']);
    expect(atDpr2.naturalWidth).to.equal(500);
    expect(await page.locator('#snippet-url').textContent()).to.equal(
      `${server.url}/samples/mountains.jpg?width=250&dpr=2`,
    );
  });

  it('shows the content type, bytes, cache status and Server-Timing of each format', async () => {
    const { page } = await open({ image: 'samples/forest-stream.jpg' });
    await previewLoaded(page, []);
    await page.locator('#width-number').fill('480');
    const auto = await previewLoaded(page, ['width=480']);
    // format=auto and Chromium's Accept (image/avif first): AVIF, or the JPEG it
    // replaces where that is smaller ("never more bytes than the JPEG"), under the same key.
    expect(auto.format).to.match(/^(AVIF \(image\/avif\)|JPEG \(image\/jpeg\))/);
    expect(auto.cache).to.equal('miss');
    expect(auto.timings).to.deep.equal(['fetch', 'decrypt', 'transform', 'store']);

    await page.locator('#format').selectOption('jpeg');
    const jpeg = await previewLoaded(page, ['width=480', 'format=jpeg']);
    await page.locator('#format').selectOption('png');
    const png = await previewLoaded(page, ['width=480', 'format=png']);

    expect(jpeg.format).to.match(/^JPEG \(image\/jpeg\)/);
    expect(png.format).to.match(/^PNG \(image\/png\)/);
    expect(png.bytes).to.be.greaterThan(jpeg.bytes);
    expect(auto.bytes).to.be.at.most(jpeg.bytes);
    for (const shown of [auto, jpeg, png]) {
      const { response, body } = await fetchImage(shown.url);
      expect(shown.bytes).to.equal(body.length);
      expect(shown.format).to.include(response.headers.get('content-type'));
    }
    // Back to JPEG: the CDN has it now.
    await page.locator('#format').selectOption('jpeg');
    await page.waitForFunction(
      () => document.querySelector('#variant-a [data-stat="cache"]')?.getAttribute('data-cache') === 'hit',
    );
    expect(await page.locator('#variant-a [data-stat="cache"]').textContent()).to.equal('Hit from cloudfront');
  });

  it('compares two variants side by side with the byte saving in percent', async () => {
    const { page } = await open({ image: 'samples/paintbrushes.jpg' });
    await previewLoaded(page, []);
    await page.locator('#width-number').fill('640');
    await page.locator('#format').selectOption('jpeg');
    await page.locator('#compare').check();
    await page.locator('#format-b').selectOption('webp');

    const a = await previewLoaded(page, ['width=640', 'format=jpeg'], 'a');
    const b = await previewLoaded(page, ['width=640', 'format=webp'], 'b');
    const summary = page.locator('#compare-summary');
    await summary.waitFor({ state: 'visible' });

    const expected = (((a.bytes - b.bytes) / a.bytes) * 100).toFixed(1);
    expect(await summary.getAttribute('data-saving')).to.equal(expected);
    expect(await summary.textContent()).to.match(
      new RegExp(`B \\(WebP, .+\\) is ${expected.replace('-', '')}% (smaller|larger) than A \\(JPEG, .+\\)`),
    );
    expect(a.naturalWidth).to.equal(b.naturalWidth);
    await page.screenshot({ path: join(OUTPUT, 'compare-desktop.png'), fullPage: true });
  });

  /** Uploads an 800×400 PNG of four flat quadrants through the API; answers its key. */
  async function uploadQuadrants(): Promise<string> {
    const quadrant = (rgb: readonly number[]) =>
      sharp({ create: { width: 400, height: 200, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
        .png()
        .toBuffer();
    const [tl, tr, bl, br] = await Promise.all([QUADRANTS.tl, QUADRANTS.tr, QUADRANTS.bl, QUADRANTS.br].map(quadrant));
    const png = await sharp({ create: { width: 800, height: 400, channels: 3, background: '#000' } })
      .composite([
        { input: tl as Buffer, left: 0, top: 0 },
        { input: tr as Buffer, left: 400, top: 0 },
        { input: bl as Buffer, left: 0, top: 200 },
        { input: br as Buffer, left: 400, top: 200 },
      ])
      .png()
      .toBuffer();
    const response = await fetch(`${server.url}/api/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiToken}`, 'content-type': 'image/png' },
      body: png,
    });
    expect(response.status).to.equal(201);
    return ((await response.json()) as { key: string }).key;
  }

  /** Mean colour of the preview's top and bottom halves, read back from its pixels. */
  function previewHalves(page: Page) {
    return page.evaluate(() => {
      const img = document.querySelector('#variant-a img.preview') as HTMLImageElement;
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const context = canvas.getContext('2d') as CanvasRenderingContext2D;
      context.drawImage(img, 0, 0);
      const half = Math.floor(canvas.height / 2);
      const out: number[][] = [];
      for (const top of [0, canvas.height - half]) {
        const data = context.getImageData(0, top, canvas.width, half).data;
        const sum: [number, number, number] = [0, 0, 0];
        for (let i = 0; i < data.length; i += 4) {
          sum[0] += data[i] as number;
          sum[1] += data[i + 1] as number;
          sum[2] += data[i + 2] as number;
        }
        out.push(sum.map((v) => v / (data.length / 4)));
      }
      return { top: out[0] as number[], bottom: out[1] as number[] };
    });
  }

  const near = (actual: number[], expected: readonly number[], tolerance = 12) =>
    actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= tolerance);

  it('a click on the original stores the focal point with PATCH and moves a cover crop there (pixels)', async () => {
    const key = await uploadQuadrants();
    const { page, errors } = await open({ image: key });
    await previewLoaded(page, [`/${key}`]);
    await page.locator('#original-img').evaluate((img: HTMLImageElement) => img.decode());
    await page.locator('#original-img').scrollIntoViewIfNeeded();
    await page.locator('#width-number').fill('50');
    await page.locator('#height-number').fill('200');
    const centred = await previewLoaded(page, ['width=50', 'height=200']);
    expect([centred.naturalWidth, centred.naturalHeight]).to.deep.equal([50, 200]);
    // No stored point: the centre, half top-left and half top-right.
    expect(near((await previewHalves(page)).top, QUADRANTS.tl)).to.equal(false);

    for (const [fx, fy, top, bottom] of [
      [0.1, 0.1, QUADRANTS.tl, QUADRANTS.bl],
      [0.9, 0.2, QUADRANTS.tr, QUADRANTS.br],
    ] as const) {
      await page.locator('#original-img').scrollIntoViewIfNeeded();
      const box = (await page.locator('#original-img').boundingBox()) as {
        x: number;
        y: number;
        width: number;
        height: number;
      };
      const patched = page.waitForResponse(
        (r) => r.request().method() === 'PATCH' && r.url().endsWith(`/api/images/${key}`),
      );
      const rerendered = page.waitForResponse(
        (r) => r.request().method() === 'GET' && r.url() === `${server.url}/${key}?width=50&height=200`,
      );
      await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
      const patch = await patched;
      expect(patch.status()).to.equal(200);
      const sent = JSON.parse(patch.request().postData() ?? '{}') as { focalPoint: { x: number; y: number } };
      expect(sent.focalPoint.x).to.be.closeTo(fx, 0.01);
      expect(sent.focalPoint.y).to.be.closeTo(fy, 0.01);
      await rerendered;
      await previewLoaded(page, ['width=50', 'height=200']);
      const halves = await previewHalves(page);
      expect(near(halves.top, top), `top ${halves.top} after a click at ${fx},${fy}`).to.equal(true);
      expect(near(halves.bottom, bottom), `bottom ${halves.bottom}`).to.equal(true);
    }
    const stored = await fetch(`${server.url}/api/images/${key}`, {
      headers: { authorization: `Bearer ${server.apiToken}` },
    });
    const { focalPoint } = (await stored.json()) as { focalPoint: { x: number; y: number } };
    expect(focalPoint.x).to.be.closeTo(0.9, 0.01);
    expect(await page.locator('#focal-marker').isVisible()).to.equal(true);
    expect(errors).to.deep.equal([]);
  });

  it('a box dragged on the original gives a rect URL whose output has the box size', async () => {
    const key = await uploadQuadrants();
    const { page } = await open({ image: key });
    await previewLoaded(page, [`/${key}`]);
    await page.locator('#original-img').evaluate((img: HTMLImageElement) => img.decode());
    await page.locator('#original-img').scrollIntoViewIfNeeded();
    const box = (await page.locator('#original-img').boundingBox()) as {
      x: number;
      y: number;
      width: number;
      height: number;
    };
    // Inside the top-left quadrant: 10%..40% across, 10%..40% down of 800×400.
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.1);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.25, { steps: 4 });
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.4, { steps: 4 });
    await page.mouse.up();

    const rect = (await page.locator('#rect').inputValue()).split(',').map(Number) as [number, number, number, number];
    expect(rect[0]).to.be.closeTo(80, 4);
    expect(rect[1]).to.be.closeTo(40, 4);
    expect(rect[2]).to.be.closeTo(240, 4);
    expect(rect[3]).to.be.closeTo(120, 4);
    const shown = await previewLoaded(page, [`rect=${rect.join(',')}`]);
    expect(shown.url).to.equal(`/${key}?rect=${rect.join(',')}`);
    expect([shown.naturalWidth, shown.naturalHeight]).to.deep.equal([rect[2], rect[3]]);
    const halves = await previewHalves(page);
    expect(near(halves.top, QUADRANTS.tl) && near(halves.bottom, QUADRANTS.tl)).to.equal(true);
    expect(await page.locator('#snippet-url').textContent()).to.equal(`${server.url}/${key}?rect=${rect.join(',')}`);
    expect(await page.locator('#rect-box').isVisible()).to.equal(true);
  });

  it('the preset picker shows what a preset expands to and applies it; the URL carries the preset', async () => {
    const { page } = await open({ image: 'samples/mountains.jpg' });
    await previewLoaded(page, ['/samples/mountains.jpg']);
    await page.locator('#preset option[value="card"]').waitFor({ state: 'attached' });
    await page.locator('#preset').selectOption('card');

    expect(await page.locator('#preset-expansion').textContent()).to.equal(`card = ${CARD_PRESET}`);
    expect(await page.locator('#width-number').inputValue()).to.equal('320');
    expect(await page.locator('#height-number').inputValue()).to.equal('180');
    expect(await page.locator('#gravity').inputValue()).to.equal('attention');
    const card = await previewLoaded(page, ['preset=card']);
    expect(card.url).to.equal('/samples/mountains.jpg?preset=card');
    expect([card.naturalWidth, card.naturalHeight]).to.deep.equal([320, 180]);
    expect(await page.locator('#snippet-url').textContent()).to.equal(
      `${server.url}/samples/mountains.jpg?preset=card`,
    );

    // The URL's own parameters override the preset's.
    await page.locator('#width-number').fill('160');
    const smaller = await previewLoaded(page, ['preset=card', 'width=160']);
    expect(smaller.url).to.equal('/samples/mountains.jpg?preset=card&width=160');
    expect([smaller.naturalWidth, smaller.naturalHeight]).to.deep.equal([160, 180]);
  });

  it('compares AVIF, WebP, JPEG and auto with bytes and SSIM against a lossless PNG of the variant', async () => {
    const { page, errors } = await open({ image: 'samples/forest-stream.jpg' });
    await previewLoaded(page, []);
    await page.locator('#width-number').fill('400');
    await previewLoaded(page, ['width=400']);
    await page.getByRole('button', { name: 'Compare formats' }).click();
    await page.locator('#formats-table tbody tr').nth(3).waitFor({ timeout: 60_000 });

    const rows = await page.locator('#formats-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => {
        const data = (tr as HTMLElement).dataset;
        return {
          format: data.format ?? '',
          bytes: data.bytes ?? '',
          score: data.score ?? '',
          contentType: data.contentType ?? '',
          cells: [...tr.children].map((td) => td.textContent ?? ''),
        };
      }),
    );
    expect(rows.map((row) => row.format)).to.deep.equal(['avif', 'webp', 'jpeg', 'auto']);
    const byFormat = Object.fromEntries(rows.map((row) => [row.format, row]));
    for (const row of rows) {
      const score = Number(row.score);
      expect(score, row.format).to.be.greaterThan(0.8).and.at.most(1);
      expect(row.cells[4]).to.equal(score.toFixed(4));
      const { body, response } = await fetchImage(`/samples/forest-stream.jpg?width=400&format=${row.format}`);
      expect(Number(row.bytes), row.format).to.equal(body.length);
      expect(row.contentType).to.equal(response.headers.get('content-type'));
    }
    expect(byFormat.avif?.contentType).to.equal('image/avif');
    expect(byFormat.webp?.contentType).to.equal('image/webp');
    expect(byFormat.jpeg?.contentType).to.equal('image/jpeg');
    // auto: AVIF for Chromium's Accept, never more bytes than the JPEG.
    expect(Number(byFormat.auto?.bytes)).to.be.at.most(Number(byFormat.jpeg?.bytes));
    expect(await page.locator('#formats-status').textContent()).to.match(/^auto served (AVIF|JPEG): .+ SSIM 0\.\d{4}/);
    await page.screenshot({ path: join(OUTPUT, 'formats-desktop.png'), fullPage: true });

    // A changed variant makes the table stale.
    await page.locator('#width-number').fill('300');
    await page.locator('#formats-table').waitFor({ state: 'hidden' });
    expect(await page.locator('#formats-status').textContent()).to.match(/compare again/);
    expect(errors).to.deep.equal([]);
  });

  it('copies the URL, an <img> tag and a srcset whose widths are capped at the image width, each URL working', async () => {
    const { page } = await open({ image: 'samples/mountains.jpg' }); // 1440 px wide
    await previewLoaded(page, []);
    await page.locator('#width-number').fill('800');
    await page.locator('#format').selectOption('webp');
    await previewLoaded(page, ['width=800', 'format=webp']);
    const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

    await page.getByRole('button', { name: 'Copy URL' }).click();
    expect(await clipboard()).to.equal(`${server.url}/samples/mountains.jpg?width=800&format=webp`);
    await page.getByRole('button', { name: 'Copy tag' }).click();
    expect(await clipboard()).to.include(
      `<img src="${server.url}/samples/mountains.jpg?width=800&amp;format=webp" width="800" height="600"`,
    );
    await page.getByRole('button', { name: 'Copy srcset' }).click();
    const snippet = await clipboard();

    expect(await page.locator('#copy-status').textContent()).to.match(/Copied/);
    expect(snippet).to.equal(await page.locator('#snippet-srcset').textContent());
    const entries = [...snippet.matchAll(/(https?:\/\/[^\s"]+) (\d+)w/g)].map((m) => ({
      url: (m[1] as string).replaceAll('&amp;', '&'),
      width: Number(m[2]),
    }));
    expect(entries.map((e) => e.width)).to.deep.equal([320, 640, 960, 1280, 1440]);
    expect(snippet).to.match(/sizes="[^"]+"/);
    for (const entry of entries) {
      const { response, meta } = await fetchImage(entry.url.slice(server.url.length));
      expect(response.status, entry.url).to.equal(200);
      expect(meta.format).to.equal('webp');
      expect(meta.width).to.equal(entry.width);
    }
  });

  it('shows a readable error in the alert region for a bad token, and keeps the token in session storage only', async () => {
    const { page } = await open();
    await page.locator('.card').first().waitFor();

    await page.getByRole('button', { name: 'Change token' }).click();
    await page.locator('#token-input').fill('not-the-token');
    await page.keyboard.press('Enter');

    const alert = page.getByRole('alert');
    await alert.getByText(/forbidden/).waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).to.match(/^Could not list images: .+ \(403 forbidden\)/);
    expect(text).not.to.include('{');
    expect(await page.evaluate(() => ({ ...sessionStorage }))).to.deep.equal({ 'edge-resizer.token': 'not-the-token' });
    expect(await page.evaluate(() => localStorage.length)).to.equal(0);

    await page.setInputFiles('#file-input', FIXTURE);
    await alert.getByText(/Could not upload fig\.jpg: .+ \(403 forbidden\)/).waitFor();
    await page.screenshot({ path: join(OUTPUT, 'bad-token-desktop.png') });

    await page.getByRole('button', { name: 'Forget saved token' }).click();
    await page.locator('.card').first().waitFor();
    expect(await page.locator('#token-state').textContent()).to.match(/local CDN/);
    expect(await page.locator('#alert').textContent()).to.equal('');
  });

  it('deployed (no /_local/token): asks for the token once and keeps it for the session', async () => {
    const { context, page } = await open();
    await context.route('**/_local/token', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: '{"status":404,"code":"not_found","message":"Not found"}',
      }),
    );
    await page.reload();

    await page.locator('#token-input').waitFor({ state: 'visible' });
    expect(await page.locator('#token-state').textContent()).to.equal('No API token');
    await page.locator('#token-input').fill(server.apiToken);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('.card').first().waitFor();

    await page.reload();
    await page.locator('.card').first().waitFor();
    expect(await page.locator('#token-panel').isHidden()).to.equal(true);
    expect(await page.locator('#token-state').textContent()).to.match(/saved in this tab/);
  });

  it('is usable with the keyboard alone', async () => {
    const { page } = await open();
    await page.locator('.card').nth(1).waitFor();
    const secondKey = await page.locator('.card').nth(1).getAttribute('data-key');

    let focused: string | null | undefined;
    for (let i = 0; i < 15 && focused !== secondKey; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.key);
    }
    expect(focused).to.equal(secondKey);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(outline).not.to.equal('none');
    await page.keyboard.press('Enter');

    expect(await page.locator(`.card[data-key="${secondKey}"]`).getAttribute('aria-pressed')).to.equal('true');
    // Every control has a name a screen reader can read.
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('button, input:not([type=file]), select')]
        .filter((el) => !el.hidden && el.offsetParent !== null)
        .filter((el) => {
          const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
          const labels = (el as HTMLInputElement).labels;
          return !labelled && !(labels && labels.length > 0) && !(el.tagName === 'BUTTON' && el.textContent?.trim());
        })
        .map((el) => el.id || el.outerHTML.slice(0, 60)),
    );
    expect(unnamed).to.deep.equal([]);
  });

  it('fits a 375 px phone screen without sideways scrolling', async () => {
    const { page, errors } = await open({ viewport: PHONE, image: 'samples/dogs-portrait.jpg' });
    await page.locator('.card').nth(5).waitFor();
    await page.locator('#width-number').fill('360');
    await previewLoaded(page, ['width=360']);
    await page.locator('#compare').check();
    await page.locator('#format').selectOption('jpeg');
    await previewLoaded(page, ['width=360', 'format=jpeg'], 'a');
    await previewLoaded(page, ['width=360', 'format=webp'], 'b');
    await page.waitForLoadState('networkidle');

    const overflow = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      offenders: [...document.querySelectorAll<HTMLElement>('main *, header *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .filter((el) => !el.closest('.image-list')) // the library is a sideways strip on purpose
        .map((el) => el.id || el.className || el.tagName),
    }));
    expect(overflow.page).to.be.at.most(PHONE.width);
    expect(overflow.offenders).to.deep.equal([]);
    // The editor starts on the first screen: the library is a strip, not a wall of cards.
    const editorTop = await page.locator('#editor').evaluate((el) => el.getBoundingClientRect().top);
    expect(editorTop).to.be.lessThan(PHONE.height);
    expect(errors).to.deep.equal([]);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUTPUT, 'playground-phone.png') });
    await page.screenshot({ path: join(OUTPUT, 'playground-phone-full.png'), fullPage: true });
  });

  it('takes the desktop screenshots', async () => {
    const { page, errors } = await open({ image: 'samples/mountains.jpg' });
    await page.locator('.card').nth(5).waitFor();
    await page.locator('#width-number').fill('640');
    await page.locator('#format').selectOption('jpeg');
    await page.locator('#compare').check();
    await previewLoaded(page, ['width=640', 'format=jpeg'], 'a');
    await previewLoaded(page, ['width=640', 'format=webp'], 'b');
    await page.waitForLoadState('networkidle');
    expect(errors).to.deep.equal([]);

    // Tall enough to show the controls, both variants and the original with its focal point.
    await page.setViewportSize({ width: DESKTOP.width, height: 1480 });
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(OUTPUT, 'playground-desktop.png') });
    await page.screenshot({ path: join(OUTPUT, 'playground-desktop-full.png'), fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      // Palette PNGs: a third of the size in git, and screenshots survive the banding.
      const copies = [
        ['playground-desktop.png', 'playground-desktop.png'],
        ['playground-phone.png', 'playground-phone.png'],
      ] as const;
      for (const [from, to] of copies) {
        await sharp(join(OUTPUT, from))
          .png({ palette: true, quality: 90, effort: 10, compressionLevel: 9 })
          .toFile(join(ROOT, 'docs', to));
      }
    }
  });
});
