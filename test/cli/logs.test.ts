/**
 * `edge-resizer logs`: the real bin and the real CloudWatch Logs SDK client
 * against a loopback fake of the Logs API (awsJson1_1), per region; locally,
 * the log file `serve` appends to.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { localLogFiles, localLogPath, teeToLocalLog } from '../../src/cli/local-log-file.js';
import { splitLambdaLine } from '../../src/cli/logs.js';
import { runCli, startCli, startServe } from '../helpers/cli.js';
import { emfProblems } from '../helpers/emf.js';
import { type FakeCloudWatchLogs, startFakeCloudWatchLogs } from '../helpers/fake-cloudwatch-logs.js';

const EDGE_GROUP = '/aws/lambda/us-east-1.edge-resizer-dev-originResponse';
const ids = [
  '0f3c5a1e-2b4d-4c6e-8f00-112233445566',
  '7a8b9c0d-1e2f-4a5b-9c6d-778899aabbcc',
  'c0ffee00-1111-4222-8333-444455556666',
];
const lambdaLine = (time: number, id: string, message: string) =>
  `${new Date(time).toISOString()}\t${id}\tINFO\t${message}\n`;

describe('edge-resizer logs', function () {
  this.timeout(60_000);
  let fake: FakeCloudWatchLogs;
  let env: Record<string, string>;
  // Taken when the tests start, not when mocha loads the file (minutes earlier in a full run).
  let now: number;

  before(async () => {
    now = Date.now();
    // An opt-in region that is not enabled for the account refuses every call.
    fake = await startFakeCloudWatchLogs({ pageSize: 2, disabledRegions: ['ap-south-1'] });
    env = {
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: fake.endpoint,
      AWS_ACCESS_KEY_ID: 'AKIDLOGSTEST',
      AWS_SECRET_ACCESS_KEY: 'logs-test-secret',
      AWS_REGION: 'us-east-1',
      AWS_PROFILE: '',
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    };
    // Interleaved in time across two regions, more than one page each.
    fake.addEvents('eu-west-1', EDGE_GROUP, [
      { timestamp: now - 50_000, message: lambdaLine(now - 50_000, ids[0] as string, '{"message":"eu first"}') },
      { timestamp: now - 30_000, message: lambdaLine(now - 30_000, ids[0] as string, '{"message":"eu second"}') },
      { timestamp: now - 10_000, message: `REPORT RequestId: ${ids[0]}\tDuration: 812.3 ms\n` },
    ]);
    fake.addEvents('us-east-1', EDGE_GROUP, [
      { timestamp: now - 40_000, message: lambdaLine(now - 40_000, ids[1] as string, '{"message":"us first"}') },
      { timestamp: now - 20_000, message: lambdaLine(now - 20_000, ids[1] as string, '{"message":"us second"}') },
      // Older than --since: not shown.
      { timestamp: now - 3_600_000, message: lambdaLine(now - 3_600_000, ids[1] as string, '{"message":"too old"}') },
    ]);
    // Another function whose name starts alike: never read.
    fake.addEvents('eu-west-1', `${EDGE_GROUP}Old`, [{ timestamp: now - 15_000, message: 'decoy' }]);
    fake.addEvents('us-east-1', '/aws/cloudfront/function/edge-resizer-dev-viewer-request', [
      { timestamp: now - 5_000, message: 'viewer line' },
    ]);
  });
  after(() => fake.close());

  it('merges the events of every region by time, one line each with region and request id', async () => {
    const result = await runCli(['logs', '--stage', 'dev', '--since', '15m'], { env });
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(' ').slice(1, 3).join(' '))).to.deep.equal([
      `eu-west-1 ${ids[0]}`,
      `us-east-1 ${ids[1]}`,
      `eu-west-1 ${ids[0]}`,
      `us-east-1 ${ids[1]}`,
      `eu-west-1 ${ids[0]}`,
    ]);
    expect(lines[0]).to.match(/^\d{4}-\d\d-\d\dT\S+Z eu-west-1 \S+ \{"message":"eu first"\}$/);
    expect(lines[4]).to.include('REPORT RequestId');
    expect(result.stdout).not.to.include('too old');
    expect(result.stdout).not.to.include('decoy');
    expect(result.stderr).to.match(/ap-south-1: UnrecognizedClientException/);
    // Every edge region was asked; the decoy group was never read.
    const described = new Set(fake.calls.filter((c) => c.operation === 'DescribeLogGroups').map((c) => c.region));
    expect(described.size).to.equal(13);
    const filtered = fake.calls.filter((c) => c.operation === 'FilterLogEvents').map((c) => c.body.logGroupName);
    expect(filtered).to.not.include(`${EDGE_GROUP}Old`);
  });

  it('--json prints one object per event with the raw message; --filter reaches the service', async () => {
    fake.calls.length = 0;
    const result = await runCli(['logs', '--stage', 'dev', '--json', '--filter', 'second'], { env });
    expect(result.code, result.stderr).to.equal(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.region)).to.deep.equal(['eu-west-1', 'us-east-1']);
    expect(events[0]).to.include({ logGroup: EDGE_GROUP, requestId: ids[0], message: '{"message":"eu second"}' });
    const filters = fake.calls.filter((c) => c.operation === 'FilterLogEvents').map((c) => c.body.filterPattern);
    expect(filters.length).to.be.greaterThan(0);
    expect(filters.every((f) => f === 'second')).to.equal(true);
  });

  it("reads the viewer function's own log group in us-east-1 only", async () => {
    fake.calls.length = 0;
    const result = await runCli(['logs', '--stage', 'dev', '--function', 'viewerRequest'], { env });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/ us-east-1 - viewer line\n$/);
    expect(new Set(fake.calls.map((c) => c.region))).to.deep.equal(new Set(['us-east-1']));
  });

  it('refuses a bad --since, --stage or --function as usage (exit 2) before any call', async () => {
    fake.calls.length = 0;
    for (const args of [
      ['--since', '15 minutes'],
      ['--stage', 'dev;rm'],
      ['--function', 'thumbnail'],
    ]) {
      const result = await runCli(['logs', '--stage', 'dev', ...args], { env });
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
    }
    expect(fake.calls).to.have.length(0);
  });

  it('--follow prints new events as they arrive, once each, and stops on Ctrl-C with exit 0', async function () {
    // Generous: the bin's start alone takes seconds on a loaded machine.
    this.timeout(120_000);
    const run = startCli(['logs', '--stage', 'dev', '--since', '2m', '--follow'], { env });
    try {
      await run.waitFor('us second');
      const later = Date.now();
      fake.addEvents('sa-east-1', EDGE_GROUP, [
        { timestamp: later, message: lambdaLine(later, ids[2] as string, '{"message":"fresh from sa"}') },
      ]);
      // The group is new in that region: found on a later discovery or on the first poll after it.
      fake.addEvents('eu-west-1', EDGE_GROUP, [
        { timestamp: later, message: lambdaLine(later, ids[0] as string, '{"message":"fresh from eu"}') },
      ]);
      await run.waitFor('fresh from eu');
      await new Promise((r) => setTimeout(r, 2500)); // one more poll: nothing printed twice
      run.child.kill('SIGINT');
      expect(await run.exited, run.stderr()).to.equal(0);
      expect(run.stdout().split('fresh from eu').length - 1).to.equal(1);
      expect(run.stdout().split('eu first').length - 1).to.equal(1);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  describe('locally', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'edge-resizer-logs-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('rotates the local log file past its bound, keeping one older file', async () => {
      const lines: string[] = [];
      const sink = teeToLocalLog(dir, { maxBytes: 1000, write: (line) => lines.push(line) });
      for (let i = 0; i < 40; i += 1) sink(JSON.stringify({ time: new Date().toISOString(), message: `line ${i}` }));
      expect(lines).to.have.length(40);
      await new Promise((resolve) => setImmediate(resolve)); // one append per turn of the event loop
      const [older, current] = await Promise.all(localLogFiles(dir).map((f) => readFile(f, 'utf8')));
      expect(Buffer.byteLength(current ?? '')).to.be.at.most(1000);
      expect(Buffer.byteLength(older ?? '')).to.be.at.most(1000);
      expect(current).to.include('"line 39"');
      expect(older).not.to.include('"line 0"'); // rotated away more than once
    });

    it('reads the local log, oldest first, within --since and --filter', async () => {
      const local = join(dir, 'read');
      await mkdir(join(local, 'logs'), { recursive: true });
      const at = (ms: number, message: string) =>
        JSON.stringify({ time: new Date(Date.now() - ms).toISOString(), message });
      await writeFile(`${localLogPath(local)}.1`, `${at(7_200_000, 'two hours ago')}\n${at(600_000, 'older file')}\n`);
      await writeFile(localLogPath(local), `${at(60_000, 'a minute ago')}\n${at(1000, 'just now miss')}\n`);
      const all = await runCli(['logs', '--data-dir', local, '--since', '1h']);
      expect(all.code, all.stderr).to.equal(0);
      expect(
        all.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l.split(' ').slice(3).join(' ')).message),
      ).to.deep.equal(['older file', 'a minute ago', 'just now miss']);
      const filtered = await runCli(['logs', '--stage', 'local', '--data-dir', local, '--filter', 'miss']);
      expect(filtered.stdout.trim().split('\n')).to.have.length(1);
    });

    it('serve appends its log lines and metrics lines to the data dir, and logs reads them back', async function () {
      this.timeout(120_000);
      const data = join(dir, 'served');
      const served = await startServe(['--port', '0', '--data-dir', data]);
      try {
        const response = await fetch(`${served.url}/samples/fig.jpg?width=77`, { headers: { accept: 'image/webp' } });
        expect(response.status).to.equal(200);
        await response.arrayBuffer();
      } finally {
        await served.stop();
      }
      const text = await readFile(localLogPath(data), 'utf8');
      const lines = text.trim().split('\n');
      const emf = lines.filter((l) => l.includes('"_aws"'));
      expect(emf.length, 'a metrics line for the miss').to.be.greaterThan(0);
      for (const line of emf) expect(emfProblems(line)).to.deep.equal([]);
      expect(emf.some((l) => JSON.parse(l).Misses === 1)).to.equal(true);
      const read = await runCli(['logs', '--data-dir', data, '--filter', 'fig.jpg']);
      expect(read.code, read.stderr).to.equal(0);
      const request = read.stdout.split('\n').find((l) => l.includes('"method":"GET"'));
      expect(request, read.stdout).to.include('"path":"/samples/fig.jpg"');
    });
  });

  it('splits Lambda text-format lines into request id and message', () => {
    expect(splitLambdaLine(`2026-12-08T00:00:00.000Z\t${ids[0]}\tERROR\t{"a":1}`)).to.deep.equal({
      requestId: ids[0],
      message: '{"a":1}',
    });
    expect(splitLambdaLine(`END RequestId: ${ids[1]}`)).to.deep.equal({
      requestId: ids[1],
      message: `END RequestId: ${ids[1]}`,
    });
    expect(splitLambdaLine('plain')).to.deep.equal({ message: 'plain' });
  });
});
