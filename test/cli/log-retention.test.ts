/**
 * `edge-resizer log-retention`, the bin in a child process with the real
 * CloudWatch Logs SDK client, against a loopback CloudWatch Logs that speaks
 * its JSON protocol and keeps log groups per region (the region each request
 * is signed for). Lambda@Edge log groups are `/aws/lambda/us-east-1.<function>`
 * in every region the function ran in ("Edge function logs", CloudFront
 * Developer Guide).
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { expect } from 'chai';
import { logRetention, type RetentionLine } from '../../src/cli/log-retention.js';
import { runCli } from '../helpers/cli.js';
import { type FakeCloudWatchLogs, startFakeCloudWatchLogs } from '../helpers/fake-cloudwatch-logs.js';

const REQUEST = '/aws/lambda/us-east-1.edge-resizer-dev-originRequest';
const RESPONSE = '/aws/lambda/us-east-1.edge-resizer-dev-originResponse';

describe('edge-resizer log-retention', function () {
  this.timeout(60_000);
  let logs: FakeCloudWatchLogs;

  const run = (args: string[]) =>
    runCli(['log-retention', ...args], {
      env: {
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint,
        AWS_ACCESS_KEY_ID: 'AKIDLOGRETENTIONTEST',
        AWS_SECRET_ACCESS_KEY: 'log-retention-test-secret',
        AWS_SESSION_TOKEN: '',
        AWS_PROFILE: '',
        AWS_REGION: '',
      },
    });
  const lines = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RetentionLine);

  beforeEach(async () => {
    logs = await startFakeCloudWatchLogs({ pageSize: 2, disabledRegions: ['ap-south-1'] });
    logs.addGroup('us-east-1', REQUEST);
    logs.addGroup('eu-west-1', REQUEST);
    logs.addGroup('eu-west-1', RESPONSE, { retentionInDays: 30 });
    logs.addGroup('ap-northeast-1', RESPONSE, { retentionInDays: 3653 });
    // Not ours: another stage, another service, a regional function, a lookalike name.
    logs.addGroup('eu-west-1', '/aws/lambda/us-east-1.edge-resizer-prod-originRequest');
    logs.addGroup('eu-west-1', '/aws/lambda/us-east-1.edge-resizer-dev-originRequestOld');
    logs.addGroup('eu-west-1', '/aws/lambda/us-east-1.edge-resizer-dev-originRequest-copy');
    logs.addGroup('eu-west-1', '/aws/lambda/edge-resizer-dev-api');
    logs.addGroup('eu-west-1', '/aws/lambda/us-east-1.other-dev-originRequest');
  });
  afterEach(() => logs.close());

  it("sets the stage's Lambda@Edge log groups to --days in every edge region, and nothing else", async () => {
    const result = await run(['--stage', 'dev', '--days', '14']);
    expect(result.code, result.stderr).to.equal(0);
    expect(logs.group('us-east-1', REQUEST)?.retentionInDays).to.equal(14);
    expect(logs.group('eu-west-1', REQUEST)?.retentionInDays).to.equal(14);
    expect(logs.group('eu-west-1', RESPONSE)?.retentionInDays).to.equal(14);
    expect(logs.group('ap-northeast-1', RESPONSE)?.retentionInDays).to.equal(14);
    for (const other of [
      '/aws/lambda/us-east-1.edge-resizer-prod-originRequest',
      '/aws/lambda/us-east-1.edge-resizer-dev-originRequestOld',
      '/aws/lambda/us-east-1.edge-resizer-dev-originRequest-copy',
      '/aws/lambda/edge-resizer-dev-api',
      '/aws/lambda/us-east-1.other-dev-originRequest',
    ]) {
      expect(logs.group('eu-west-1', other)?.retentionInDays, other).to.equal(undefined);
    }
    const changed = lines(result.stdout).filter((line) => 'logGroup' in line);
    expect(changed.map((line) => 'logGroup' in line && `${line.region} ${line.logGroup}`).sort()).to.deep.equal(
      [`ap-northeast-1 ${RESPONSE}`, `eu-west-1 ${REQUEST}`, `eu-west-1 ${RESPONSE}`, `us-east-1 ${REQUEST}`].sort(),
    );
    expect(changed.find((line) => line.region === 'ap-northeast-1')).to.include({ retentionInDays: 3653, set: 14 });
    // Each region was asked, each signed for itself; eu-west-1 has three groups under REQUEST's
    // name, more than a page of 2: the second page was asked for.
    const described = new Set(logs.calls.filter((c) => c.operation === 'DescribeLogGroups').map((c) => c.region));
    expect(described.size).to.equal(13);
    const requestPages = logs.calls.filter(
      (c) => c.region === 'eu-west-1' && c.operation === 'DescribeLogGroups' && c.body.logGroupNamePrefix === REQUEST,
    );
    expect(requestPages.map((c) => c.body.nextToken !== undefined)).to.deep.equal([false, true]);
    // An opt-in region the account has not enabled is skipped, not a failure.
    expect(lines(result.stdout)).to.deep.include({
      region: 'ap-south-1',
      skipped: 'the region is not enabled for this account',
    });
  });

  it('changes nothing already right, and nothing at all with --dry-run', async () => {
    const dry = await run(['--stage', 'dev', '--days', '30', '--dry-run', '--regions', 'eu-west-1']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(logs.calls.filter((c) => c.operation === 'PutRetentionPolicy')).to.deep.equal([]);
    expect(logs.group('eu-west-1', REQUEST)?.retentionInDays).to.equal(undefined);
    const real = await run(['--stage', 'dev', '--days', '30', '--regions', 'eu-west-1']);
    expect(real.code, real.stderr).to.equal(0);
    const puts = logs.calls.filter((c) => c.operation === 'PutRetentionPolicy');
    expect(puts.map((c) => c.body.logGroupName)).to.deep.equal([REQUEST]);
    expect(lines(real.stdout)).to.deep.include({
      region: 'eu-west-1',
      logGroup: RESPONSE,
      retentionInDays: 30,
      set: 30,
      changed: false,
    });
  });

  it('exits 1 naming the region when one fails, after doing the others', async () => {
    await logs.close();
    logs = await startFakeCloudWatchLogs({ failingRegions: ['eu-west-1'] });
    logs.addGroup('us-east-1', REQUEST);
    const result = await run(['--stage', 'dev', '--days', '7', '--regions', 'us-east-1,eu-west-1']);
    expect(result.code).to.equal(1);
    expect(logs.group('us-east-1', REQUEST)?.retentionInDays).to.equal(7);
    const failure = lines(result.stdout).find((line) => 'error' in line);
    expect(failure).to.have.property('region', 'eu-west-1');
    expect(result.stderr).to.match(/1 regions failed/);
    expect(result.stderr).to.not.match(/\n\s+at /);
  });

  it('is bad usage (exit 2) for a retention CloudWatch does not offer, a bad stage or region', async () => {
    for (const args of [
      ['--stage', 'dev', '--days', '10'],
      ['--stage', 'dev', '--days', 'forever'],
      ['--stage', '../dev', '--days', '7'],
      ['--stage', 'dev', '--regions', 'mars-1'],
      ['--days', '7'],
    ]) {
      const result = await run(args);
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr).to.not.equal('');
    }
    expect(logs.calls).to.deep.equal([]);
  });

  it('in process, writes through the client, out and err it is given, as logs and stats do', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const clientFor = (region: string) =>
      new CloudWatchLogsClient({
        region,
        endpoint: logs.endpoint,
        credentials: { accessKeyId: 'AKIDINPROCESS', secretAccessKey: 'in-process-secret' },
      });
    const code = await logRetention(
      { stage: 'dev', days: '60', regions: 'eu-west-1,ap-northeast-1' },
      { clientFor, out: (line) => out.push(line), err: (line) => err.push(line) },
    );
    expect(code).to.equal(0);
    expect(out.map((line) => JSON.parse(line).logGroup).sort()).to.deep.equal([RESPONSE, REQUEST, RESPONSE].sort());
    expect(logs.group('ap-northeast-1', RESPONSE)?.retentionInDays).to.equal(60);
    expect(err).to.deep.equal([
      'log-retention: 3 Lambda@Edge log groups in 2 regions, set to 60 days; 0 regions failed',
    ]);
  });
});
