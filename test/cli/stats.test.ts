/**
 * `edge-resizer stats`: the real bin and the real CloudWatch SDK client
 * against a loopback GetMetricData (awsJson1_0, per region); locally, the log
 * file `serve` appends to, written by the real metrics emitter.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { localLogPath } from '../../src/cli/local-log-file.js';
import { apiRecord, originResponseRecord, toEmf } from '../../src/core/metrics.js';
import { runCli } from '../helpers/cli.js';
import { type FakeCloudWatch, startFakeCloudWatch } from '../helpers/fake-cloudwatch-metrics.js';

const NS = 'edge-resizer';

describe('edge-resizer stats', function () {
  this.timeout(60_000);

  describe('deployed', () => {
    let fake: FakeCloudWatch;
    let env: Record<string, string>;
    before(async () => {
      fake = await startFakeCloudWatch({ pageSize: 7 });
      env = {
        AWS_ENDPOINT_URL_CLOUDWATCH: fake.endpoint,
        AWS_ACCESS_KEY_ID: 'AKIDSTATSTEST',
        AWS_SECRET_ACCESS_KEY: 'stats-test-secret',
        AWS_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/nonexistent',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      };
      const edge = { Stage: 'prod', Function: 'originResponse' };
      // Two regions ran misses; values arrive in more than one period.
      for (const [region, misses, stored, out, original, webp, avif] of [
        ['eu-west-1', [1, 2], [4], [3000], [90_000], [1], [2]],
        ['us-east-1', [2], [1], [2000], [60_000], [1], [1]],
      ] as const) {
        fake.set(region, NS, 'Misses', edge, 'Sum', [...misses]);
        fake.set(region, NS, 'StoredHits', edge, 'Sum', [...stored]);
        fake.set(region, NS, 'Requests', edge, 'Sum', [misses.reduce((a, b) => a + b, 0) + stored[0]]);
        fake.set(region, NS, 'OutputBytes', edge, 'Sum', [...out]);
        fake.set(region, NS, 'OriginalBytes', edge, 'Sum', [...original]);
        fake.set(region, NS, 'Served', { ...edge, Format: 'webp' }, 'Sum', [...webp]);
        fake.set(region, NS, 'Served', { ...edge, Format: 'avif' }, 'Sum', [...avif]);
      }
      fake.set(
        'eu-west-1',
        NS,
        'Errors',
        { Stage: 'prod', Function: 'originResponse', ErrorCode: 'not_found' },
        'Sum',
        [2],
      );
      fake.set('us-east-1', NS, 'Requests', { Stage: 'prod', Function: 'api' }, 'Sum', [4]);
      fake.set('us-east-1', NS, 'Errors', { Stage: 'prod', Function: 'api', ErrorCode: 'unauthorized' }, 'Sum', [1]);
      // Another stage's metrics are never counted.
      fake.set('eu-west-1', NS, 'Misses', { Stage: 'dev', Function: 'originResponse' }, 'Sum', [1000]);
      const cf = { DistributionId: 'E2EXAMPLE123', Region: 'Global' };
      fake.set('us-east-1', 'AWS/CloudFront', 'Requests', cf, 'Sum', [60, 40]);
      fake.set('us-east-1', 'AWS/CloudFront', 'BytesDownloaded', cf, 'Sum', [500_000]);
      fake.set('us-east-1', 'AWS/CloudFront', '5xxErrorRate', cf, 'Average', [0.5, 1.5]);
    });
    after(() => fake.close());

    it('sums the embedded metrics over every region and reads CloudFront in us-east-1', async () => {
      const result = await runCli(
        ['stats', '--stage', 'prod', '--since', '2h', '--distribution-id', 'E2EXAMPLE123', '--json'],
        { env },
      );
      expect(result.code, result.stderr).to.equal(0);
      const stats = JSON.parse(result.stdout);
      expect(stats).to.include({
        stage: 'prod',
        requests: 100,
        // 100 viewer requests, 7 + 3 reached origin-response, 4 the API.
        hits: 86,
        misses: 5,
        storedHits: 5,
        outputBytes: 5000,
        originalBytes: 150_000,
        bytesSaved: 145_000,
        bytesDownloaded: 500_000,
        serverErrorRatePercent: 1,
      });
      expect(stats.formats).to.deep.equal({ webp: 2, avif: 3 });
      expect(stats.errors).to.deep.equal({ not_found: 2, unauthorized: 1 });
      expect(stats.missesByRegion).to.deep.equal({ 'eu-west-1': 3, 'us-east-1': 2 });
      // Every edge region was asked, over the window asked for.
      expect(new Set(fake.calls.map((c) => c.region)).size).to.equal(13);
      const call = fake.calls[0];
      expect((call?.endTime ?? 0) - (call?.startTime ?? 0)).to.be.closeTo(7200, 5);
    });

    it('without a distribution id says what it could not measure, and still reports the rest', async () => {
      const result = await runCli(['stats', '--stage', 'prod'], { env });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.match(/no --distribution-id/);
      expect(result.stdout).to.match(/requests\s+not measured/);
      expect(result.stdout).to.match(/misses\s+5 \(stored derivatives served: 5, 302s: 0\)/);
      expect(result.stdout).to.match(/formats\s+avif 3, webp 2/);
      expect(result.stdout).to.match(/96\.67% less/);
    });

    it('refuses a malformed distribution id as usage, before any call', async () => {
      fake.calls.length = 0;
      const result = await runCli(['stats', '--stage', 'prod', '--distribution-id', 'not/an-id'], { env });
      expect(result.code).to.equal(2);
      expect(fake.calls).to.have.length(0);
    });
  });

  describe('locally', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'edge-resizer-stats-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it("sums the local CDN's metrics and request lines within the window", async () => {
      const now = Date.now();
      const line = (record: Parameters<typeof toEmf>[0]) => JSON.stringify(toEmf(record));
      const miss = (format: string, out: number, original: number, ago: number) =>
        line({
          ...originResponseRecord('local', {
            kind: 'miss',
            durationMs: 40,
            contentType: `image/${format}`,
            outputBytes: out,
            originalBytes: original,
          }),
          timestamp: now - ago,
        });
      const request = (cache: string, ago: number) =>
        JSON.stringify({
          time: new Date(now - ago).toISOString(),
          level: 'info',
          message: 'request',
          path: '/a.jpg',
          cache,
        });
      await mkdir(join(dir, 'logs'), { recursive: true });
      await writeFile(
        localLogPath(dir),
        [
          miss('webp', 100, 1000, 7_200_000), // outside --since 1h
          miss('webp', 100, 1000, 60_000),
          miss('avif', 50, 1000, 30_000),
          line({
            ...originResponseRecord('local', { kind: 'error', durationMs: 3, errorCode: 'corrupt_image' }),
            timestamp: now - 20_000,
          }),
          line({ ...apiRecord('local', { durationMs: 5, errorCode: 'unauthorized' }), timestamp: now - 10_000 }),
          request('miss', 60_000),
          request('miss', 30_000),
          request('hit', 5_000),
          request('hit', 4_000),
          'not json',
          '',
        ].join('\n'),
      );
      const result = await runCli(['stats', '--data-dir', dir, '--json']);
      expect(result.code, result.stderr).to.equal(0);
      const stats = JSON.parse(result.stdout);
      expect(stats).to.include({
        stage: 'local',
        requests: 4,
        hits: 2,
        misses: 2,
        outputBytes: 150,
        originalBytes: 2000,
      });
      expect(stats.formats).to.deep.equal({ webp: 1, avif: 1 });
      expect(stats.errors).to.deep.equal({ corrupt_image: 1, unauthorized: 1 });
    });
  });
});
