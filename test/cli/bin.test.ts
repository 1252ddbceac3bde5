import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { forEachLimited } from '../../src/cli/common.js';
import { createConfig } from '../../src/core/config.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { type Launch, REPO_ROOT, runCli, type ServeProcess, startServe } from '../helpers/cli.js';

const { derivativesBucket, region } = createConfig();

function s3(endpoint: string): S3Client {
  return createS3Client({ region, endpoint, credentials: LOCAL_CREDENTIALS, timeoutMs: 20_000, maxAttempts: 2 });
}

describe('bin/edge-resizer.mjs, launched as users launch it', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-resizer-bin-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const launch of ['node', 'exec', 'npx'] as Launch[]) {
    it(`\`${launch}\`: --help works, and the embedded S3 of \`serve\` pages its listings`, async function () {
      this.timeout(120_000);
      const help = await runCli(['--help'], { launch });
      expect(help.code, help.stderr).to.equal(0);
      expect(help.stdout).to.match(/Usage: edge-resizer/);

      const served = await startServe(['--port', '0', '--data-dir', join(dir, launch)], {
        launch,
        env: { LOG_LEVEL: 'info' },
      });
      const client = s3(served.s3Endpoint);
      try {
        for (const n of [1, 2, 3]) {
          await client.send(
            new PutObjectCommand({ Bucket: derivativesBucket, Key: `paged/${launch}/${n}`, Body: 'x' }),
          );
        }
        // MaxKeys 1: every page after the first needs the continuation token s3rver makes with DES.
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(
            new ListObjectsV2Command({
              Bucket: derivativesBucket,
              Prefix: `paged/${launch}/`,
              MaxKeys: 1,
              ContinuationToken: token,
            }),
          );
          keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        expect(keys).to.deep.equal([1, 2, 3].map((n) => `paged/${launch}/${n}`));
      } finally {
        client.destroy();
        const code = await served.stop('SIGINT');
        // npm re-raises the signal on itself once its child has exited: only the bin's own code is ours.
        if (launch !== 'npx') expect(code, served.stderr()).to.equal(0);
        expect(served.stderr()).to.match(/Stopping/);
        await fetch(served.url).then(
          () => expect.fail('the server still answers after Ctrl-C'),
          () => undefined,
        );
      }
    });
  }

  it('`node bin/edge-resizer.mjs serve` purges a key with over 1,000 derivatives', async function () {
    this.timeout(240_000);
    let served: ServeProcess | undefined;
    let client: S3Client | undefined;
    try {
      served = await startServe(['--port', '0', '--data-dir', join(dir, 'many')], { launch: 'node' });
      client = s3(served.s3Endpoint);
      const token = (await readFile(join(dir, 'many', 'api-token'), 'utf8')).trim();
      const variants = Array.from({ length: 1_010 }, (_, n) => `samples/fig.jpg/w${n + 1}-q80-cover.jpeg`);
      await forEachLimited(variants, 16, async (key) => {
        await client?.send(new PutObjectCommand({ Bucket: derivativesBucket, Key: key, Body: 'x' }));
      });
      const response = await fetch(`${served.url}/api/derivatives/samples/fig.jpg`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await response.text();
      expect(response.status, body).to.equal(200);
      expect(JSON.parse(body).deleted).to.be.at.least(1_010);
      const left = await client.send(
        new ListObjectsV2Command({ Bucket: derivativesBucket, Prefix: 'samples/fig.jpg/' }),
      );
      expect(left.KeyCount ?? 0).to.equal(0);
    } finally {
      client?.destroy();
      if (served) expect(await served.stop('SIGTERM'), served.stderr()).to.equal(0);
    }
  });

  it('`npx edge-resizer serve` on a fresh clone serves the built playground', async function () {
    this.timeout(240_000);
    // A fresh clone: the tracked files of this checkout, no web/dist, the installed node_modules.
    const clone = join(dir, 'clone');
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter(Boolean);
    for (const file of files) {
      await mkdir(dirname(join(clone, file)), { recursive: true });
      await copyFile(join(REPO_ROOT, file), join(clone, file)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error; // deleted in the working tree, not yet committed
      });
    }
    await symlink(await realpath(join(REPO_ROOT, 'node_modules')), join(clone, 'node_modules'));
    const started = performance.now();
    const served = await startServe(['--port', '0'], { launch: 'npx', cwd: clone, timeoutMs: 180_000 });
    try {
      const readyMs = performance.now() - started;
      console.log(
        `      figure: fresh clone, \`npx edge-resizer serve\` ready (build included) in ${readyMs.toFixed(0)} ms`,
      );
      const page = await fetch(`${served.url}/`);
      const html = await page.text();
      expect(page.status).to.equal(200);
      expect(html).to.not.match(/not built yet/);
      const script = /src="(\/_playground\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script, html).to.be.a('string');
      const asset = await fetch(`${served.url}${script}`);
      expect(asset.status).to.equal(200);
      expect(asset.headers.get('content-type')).to.match(/javascript/);
      expect((await asset.text()).length).to.be.greaterThan(1000);
    } finally {
      await served.stop('SIGINT');
    }
  });
});
