/**
 * `edge-resizer/next` in a real Next.js app: a Pages Router page of `<Image>`
 * elements and an App Router one, using the loader file the docs show,
 * `next build` then `next start` on 127.0.0.1, rendered by Debian Chromium against the local CDN. The stage
 * allows only the widths the app's `deviceSizes`/`imageSizes` are aligned
 * with (`widthPolicy: reject`), so a URL the loader got wrong fails to load.
 * Needs /usr/bin/chromium (or CHROMIUM_PATH); builds dist/client itself.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import sharp from 'sharp';
import { type LocalServer, startLocalServer } from '../../src/local/server.js';
import { REPO_ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const NEXT_BIN = join(REPO_ROOT, 'node_modules/next/dist/bin/next');
const WIDTHS = [320, 640, 1280];
const IMAGE_SIZES = [160];

/** The one-line loader file an app adds (`'use client'` is what the App Router asks of a loader file). */
const LOADER_FILE = `'use client';\nexport { default } from 'edge-resizer/next';\n`;

const NEXT_CONFIG = `export default {
  transpilePackages: ['edge-resizer'],
  images: {
    loader: 'custom',
    loaderFile: './edge-resizer-loader.js',
    deviceSizes: ${JSON.stringify(WIDTHS)},
    imageSizes: ${JSON.stringify(IMAGE_SIZES)},
  },
};
`;

// No favicon to ask for: its 404 would be a console error that is not ours.
const PAGE = `import Head from 'next/head';
import Image from 'next/image';
export default function Home() {
  return (
    <main>
      <Head><link rel="icon" href="data:," /></Head>
      <Image id="fixed" src="samples/fig.jpg" width={300} height={203} alt="a fig" />
      <Image id="responsive" src="samples/mountains.jpg" width={1440} height={1080} sizes="100vw" alt="mountains" />
      <Image id="small" src="/samples/forest-stream.jpg" width={160} height={107} quality={50} alt="a stream" />
    </main>
  );
}
`;

const APP_LAYOUT = `export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <head><link rel="icon" href="data:," /></head>
      <body>{children}</body>
    </html>
  );
}
`;

const APP_PAGE = `import Image from 'next/image';
export default function Page() {
  return <main><Image id="app" src="samples/fig.jpg" width={300} height={203} alt="a fig" /></main>;
}
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('edge-resizer/next in a Next.js app', function () {
  this.timeout(180_000);
  let dir: string;
  let cdn: LocalServer;
  let next: ChildProcess | undefined;
  let browser: Browser | undefined;
  let appUrl: string;
  let buildSeconds = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'client-next-'));
    await run('npm', ['run', 'build:client', '--silent'], { cwd: REPO_ROOT });
    cdn = await startLocalServer({
      dataDir: join(dir, 'data'),
      port: 0,
      logLevel: 'silent',
      seedSamples: true,
      config: { allowedWidths: [...WIDTHS, ...IMAGE_SIZES], widthPolicy: 'reject' },
    });

    const app = join(dir, 'app');
    const installed = join(app, 'node_modules/edge-resizer');
    mkdirSync(installed, { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(installed, 'package.json'));
    cpSync(join(REPO_ROOT, 'dist'), join(installed, 'dist'), { recursive: true });
    for (const name of ['next', 'react', 'react-dom'])
      symlinkSync(join(REPO_ROOT, 'node_modules', name), join(app, 'node_modules', name));
    mkdirSync(join(app, 'pages'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'next-app', private: true }));
    writeFileSync(join(app, 'edge-resizer-loader.js'), LOADER_FILE);
    writeFileSync(join(app, 'next.config.mjs'), NEXT_CONFIG);
    writeFileSync(join(app, 'pages/index.js'), PAGE);
    mkdirSync(join(app, 'app/app-router'), { recursive: true });
    writeFileSync(join(app, 'app/layout.js'), APP_LAYOUT);
    writeFileSync(join(app, 'app/app-router/page.js'), APP_PAGE);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
      NEXT_PUBLIC_EDGE_RESIZER_URL: cdn.url,
      NEXT_PUBLIC_EDGE_RESIZER_WIDTHS: [...WIDTHS, ...IMAGE_SIZES].join(','),
    };
    delete env.NODE_OPTIONS;
    // webpack: Turbopack compiles nothing outside the app's root, where this app's next is linked from.
    const started = Date.now();
    await run(process.execPath, [NEXT_BIN, 'build', '--webpack'], { cwd: app, env });
    buildSeconds = (Date.now() - started) / 1000;

    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    next = spawn(process.execPath, [NEXT_BIN, 'start', '-H', '127.0.0.1', '-p', String(port)], {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk;
        if (/Ready|started server|Local:/i.test(output)) resolve();
      };
      next?.stdout?.on('data', onData);
      next?.stderr?.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      next?.once('exit', (code) => reject(new Error(`next start exited ${code}: ${output}`)));
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  });

  after(async () => {
    await browser?.close();
    if (next && next.exitCode === null) {
      const exited = new Promise((resolve) => next?.once('exit', resolve));
      next.kill('SIGTERM');
      await exited;
    }
    await cdn?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface Loaded {
    /** By id: natural width (CSS px), the chosen candidate, and what Chromium received for it. */
    images: Record<string, { naturalWidth: number; currentSrc: string; received: string }>;
    errors: string[];
  }

  /** Opens `path` in an 800 px wide 1x viewport and waits for every image. */
  async function open(path: string): Promise<Loaded> {
    if (!browser) expect.fail('no browser');
    const context = await browser.newContext({ viewport: { width: 800, height: 900 }, deviceScaleFactor: 1 });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      // What Chromium received for each image URL: status, type, and the pixel width of its bytes.
      const received = new Map<string, Promise<string>>();
      page.on('response', (response) => {
        if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
        if (!response.url().startsWith(cdn.url)) return;
        const seen = response
          .body()
          .then((body) => sharp(body).metadata())
          .then((meta) => `${response.status()} ${response.headers()['content-type']} ${meta.width}px`);
        received.set(response.url(), seen);
      });
      await page.goto(`${appUrl}${path}`, { waitUntil: 'load' });
      // Lazy images below the fold load once scrolled to.
      await page.evaluate(() => {
        for (const image of document.images) image.loading = 'eager';
      });
      await page.waitForFunction(() => [...document.images].every((image) => image.complete), null, {
        timeout: 30_000,
      });
      const images = await page.evaluate(() =>
        [...document.images].map((image) => ({
          id: image.id,
          naturalWidth: image.naturalWidth,
          currentSrc: image.currentSrc,
        })),
      );
      const byId: Loaded['images'] = {};
      for (const image of images) {
        expect(new URL(image.currentSrc).origin, image.id).to.equal(cdn.url);
        byId[image.id] = { ...image, received: (await received.get(image.currentSrc)) ?? 'nothing' };
      }
      return { images: byId, errors };
    } finally {
      await context.close();
    }
  }

  it('loads every <Image> of a Pages Router page at the candidate Chromium chose, as AVIF, with no console error', async () => {
    console.log(`      next build: ${buildSeconds.toFixed(1)} s`);
    const { images, errors } = await open('/');
    // 300 CSS px at 1x: Next's 1x candidate is the next device or image size up, 320.
    expect(images.fixed?.naturalWidth).to.equal(320);
    expect(images.fixed?.received).to.equal('200 image/avif 320px');
    // 100vw of an 800 px viewport: Chromium picks the 1280w candidate (its natural width is in CSS px: 800).
    expect(new URL(images.responsive?.currentSrc ?? '').searchParams.get('width')).to.equal('1280');
    expect(images.responsive?.naturalWidth).to.equal(800);
    expect(images.responsive?.received).to.equal('200 image/avif 1280px');
    expect(images.small?.naturalWidth).to.equal(160);
    expect(images.small?.received).to.equal('200 image/avif 160px');
    expect(new URL(images.small?.currentSrc ?? '').searchParams.get('quality')).to.equal('50');
    expect(errors).to.deep.equal([]);
  });

  it("loads an App Router page's <Image> through the 'use client' loader file", async () => {
    const { images, errors } = await open('/app-router');
    expect(images.app?.naturalWidth).to.equal(320);
    expect(images.app?.received).to.equal('200 image/avif 320px');
    expect(errors).to.deep.equal([]);
  });
});
