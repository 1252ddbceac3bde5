/**
 * The loopback CloudWatch Logs that the logs and log-retention tests run
 * against is no kinder than the service: the real SDK client, its requests
 * per region, paged, and refused as CloudWatch Logs refuses them.
 */
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  PutRetentionPolicyCommand,
  paginateFilterLogEvents,
} from '@aws-sdk/client-cloudwatch-logs';
import { expect } from 'chai';
import { type FakeCloudWatchLogs, startFakeCloudWatchLogs } from '../helpers/fake-cloudwatch-logs.js';

const credentials = { accessKeyId: 'AKIDFAKELOGSTEST', secretAccessKey: 'fake-logs-test-secret' };
const GROUP = '/aws/lambda/us-east-1.edge-resizer-dev-originResponse';

describe('the loopback CloudWatch Logs', () => {
  let fake: FakeCloudWatchLogs;
  const clients: { destroy(): void }[] = [];
  const logsIn = (region: string) => {
    const client = new CloudWatchLogsClient({ region, endpoint: fake.endpoint, credentials, maxAttempts: 1 });
    clients.push(client);
    return client;
  };
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('the call succeeded'),
      (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => ({
        name: error.name,
        status: error.$metadata?.httpStatusCode,
      }),
    );

  beforeEach(async () => {
    fake = await startFakeCloudWatchLogs({ pageSize: 2 });
    fake.addEvents(
      'eu-west-1',
      GROUP,
      [5, 1, 4, 2, 3].map((n) => ({ timestamp: 1000 * n, message: `event ${n}` })),
    );
    fake.addGroup('us-east-1', `${GROUP}Old`);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await fake.close();
  });

  it('keeps each region apart, by the region the request is signed for', async () => {
    const names = async (region: string) =>
      ((await logsIn(region).send(new DescribeLogGroupsCommand({}))).logGroups ?? []).map((g) => g.logGroupName);
    expect(await names('eu-west-1')).to.deep.equal([GROUP]);
    expect(await names('us-east-1')).to.deep.equal([`${GROUP}Old`]);
    expect(await names('sa-east-1')).to.deep.equal([]);
  });

  it("pages FilterLogEvents within the window, oldest first, through the SDK's paginator", async () => {
    const messages: string[] = [];
    for await (const page of paginateFilterLogEvents(
      { client: logsIn('eu-west-1') },
      { logGroupName: GROUP, startTime: 2000, endTime: 5000 },
    )) {
      expect(page.events?.length ?? 0).to.be.at.most(2);
      messages.push(...(page.events ?? []).map((e) => e.message ?? ''));
    }
    expect(messages).to.deep.equal(['event 2', 'event 3', 'event 4', 'event 5']);
    expect(fake.calls.filter((c) => c.operation === 'FilterLogEvents')).to.have.length(2);
  });

  it('refuses what the service refuses: a missing group, a retention it does not offer', async () => {
    const client = logsIn('eu-west-1');
    expect(await failure(client.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/none' })))).to.deep.equal({
      name: 'ResourceNotFoundException',
      status: 400,
    });
    expect(
      await failure(client.send(new PutRetentionPolicyCommand({ logGroupName: GROUP, retentionInDays: 10 }))),
    ).to.deep.equal({ name: 'InvalidParameterException', status: 400 });
    expect(fake.group('eu-west-1', GROUP)?.retentionInDays).to.equal(undefined);
  });

  it('refuses an unsigned request, or one signed for another service, and reads the region from the scope', async () => {
    // The fake reads the credential scope, not the signature: what a request is signed for.
    const post = (authorization?: string) =>
      fetch(fake.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'Logs_20140328.DescribeLogGroups',
          ...(authorization ? { authorization } : {}),
        },
        body: '{}',
      });
    const scoped = (service: string) =>
      `AWS4-HMAC-SHA256 Credential=AKIDFAKELOGSTEST/20261208/eu-west-1/${service}/aws4_request, SignedHeaders=host, Signature=00`;
    for (const authorization of [undefined, scoped('ssm')]) {
      const refused = await post(authorization);
      expect(refused.status, authorization).to.equal(400);
      expect(await refused.json()).to.have.property('__type', 'MissingAuthenticationTokenException');
    }
    const answered = await post(scoped('logs'));
    expect(answered.status).to.equal(200);
    expect((await answered.json()).logGroups.map((g: { logGroupName: string }) => g.logGroupName)).to.deep.equal([
      GROUP,
    ]);
    // Another protocol (CloudWatch's awsJson1_0 client) is not understood either.
    const metrics = new CloudWatchClient({ region: 'eu-west-1', endpoint: fake.endpoint, credentials, maxAttempts: 1 });
    clients.push(metrics);
    expect((await failure(metrics.send(new ListMetricsCommand({})))).status).to.equal(400);
    expect(fake.calls.map((c) => c.region)).to.deep.equal(['eu-west-1']);
  });
});
