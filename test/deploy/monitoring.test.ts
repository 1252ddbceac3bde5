/**
 * The packaged stacks' monitoring (resources/monitoring.yml): alarms and the
 * dashboard name CloudFront's metrics as CloudFront documents them, the
 * embedded metrics as the functions write them (src/core/metrics.ts), and
 * the paid additional metrics are on in prod only.
 */

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { startSsmServer } from '../../bench/lib/ssm-server.js';
import { EDGE_REGIONS } from '../../src/cli/edge-regions.js';
import { createConfig } from '../../src/core/config.js';
import { encryptBuffer, formatKeyring, generateMasterKeyHex, parseMasterKey } from '../../src/core/envelope.js';
import { METRICS, METRICS_NAMESPACE } from '../../src/core/metrics.js';
import type { CloudFrontRequest, CloudFrontResultResponse } from '../../src/edge/cloudfront.js';
import { startS3rver } from '../../src/local/embedded-servers.js';
import { createS3Client, LOCAL_CREDENTIALS } from '../../src/storage/clients.js';
import { createS3Store } from '../../src/storage/s3-store.js';
import { emfMetrics, emfProblems } from '../helpers/emf.js';
import { originRequestEvent, originResponseEvent } from '../helpers/events.js';
import { fixture } from '../helpers/images.js';
import { withEnv } from './packaged.js';
import {
  type Cfn,
  deployWorkDir,
  edgeConfigFrom,
  type Packaged,
  packagedStages,
  STAGES,
  type Stage,
  unpackedFunction,
} from './stages.js';

/**
 * CloudFront's distribution metrics and the one statistic each takes ("Types
 * of metrics for CloudFront", CloudFront Developer Guide: namespace
 * AWS/CloudFront, dimensions DistributionId and Region=Global, read in us-east-1).
 */
const CLOUDFRONT_METRICS: Record<string, 'Sum' | 'Average'> = {
  Requests: 'Sum',
  BytesDownloaded: 'Sum',
  BytesUploaded: 'Sum',
  TotalErrorRate: 'Average',
  '4xxErrorRate': 'Average',
  '5xxErrorRate': 'Average',
  CacheHitRate: 'Average',
  LambdaExecutionError: 'Sum',
  LambdaValidationError: 'Sum',
  LambdaLimitExceededError: 'Sum',
};
/** "Types of metrics for Lambda functions" (Lambda Developer Guide). */
const LAMBDA_METRICS = ['Invocations', 'Errors', 'Throttles', 'Duration'];
/** How an `Fn::Sub` string names the distribution's id. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
const DISTRIBUTION_ID_IN_SUB = '${ImageDistribution}';
/** Regions with a regional edge cache, where Lambda@Edge replicas run (and where their metrics land). */
const EDGE_REGION_COUNT = 13;

const alarms = (template: Cfn): [string, Cfn][] =>
  Object.entries(template.Resources as Record<string, Cfn>).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');

/** The dashboard JSON with the `Fn::Sub` references left as `${Name}`. */
function dashboardOf(template: Cfn): { widgets: { properties: { metrics: unknown[][] } }[] } {
  const body = template.Resources.Dashboard.Properties.DashboardBody;
  expect(body).to.have.property('Fn::Sub');
  return JSON.parse(body['Fn::Sub']);
}

const require = createRequire(import.meta.url);

describe('monitoring (packaged stacks)', function () {
  this.timeout(300_000);
  let stages: Record<Stage, Packaged>;
  before(async () => {
    stages = await packagedStages();
  });

  for (const stage of STAGES) {
    describe(stage, () => {
      const template = () => stages[stage].template;

      it('alarms on the 5xx rate and on any Lambda@Edge execution or validation error, to the alarm topic', () => {
        const byMetric = new Map(
          alarms(template()).map(([, a]) => [`${a.Properties.Namespace}/${a.Properties.MetricName}`, a]),
        );
        for (const name of ['5xxErrorRate', 'LambdaExecutionError', 'LambdaValidationError']) {
          const alarm = byMetric.get(`AWS/CloudFront/${name}`);
          expect(alarm, `an alarm on ${name}`).to.not.equal(undefined);
          expect(alarm.Properties.Statistic).to.equal(CLOUDFRONT_METRICS[name]);
          expect(alarm.Properties.Dimensions).to.have.deep.members([
            { Name: 'DistributionId', Value: { Ref: 'ImageDistribution' } },
            { Name: 'Region', Value: 'Global' },
          ]);
          expect(alarm.Properties.AlarmActions).to.deep.equal([{ Ref: 'AlarmTopic' }]);
          expect(alarm.Properties.TreatMissingData).to.equal('notBreaching');
        }
        expect(byMetric.get('AWS/CloudFront/LambdaExecutionError')?.Properties.Threshold).to.equal(0);
        expect(byMetric.get('AWS/CloudFront/LambdaValidationError')?.Properties.Threshold).to.equal(0);
      });

      it('names only documented metrics, each with its documented statistic and dimensions', () => {
        for (const [id, alarm] of alarms(template())) {
          const { Namespace, MetricName, Statistic, Dimensions } = alarm.Properties;
          if (Namespace === 'AWS/CloudFront') {
            expect(CLOUDFRONT_METRICS, id).to.have.property(MetricName);
            expect(Statistic, id).to.equal(CLOUDFRONT_METRICS[MetricName]);
          } else if (Namespace === 'AWS/Lambda') {
            expect(LAMBDA_METRICS, id).to.include(MetricName);
            expect(Dimensions, id).to.deep.equal([{ Name: 'FunctionName', Value: { Ref: 'ApiLambdaFunction' } }]);
          } else {
            expect(`${Namespace}/${MetricName}`, id).to.equal('AWS/Billing/EstimatedCharges');
          }
        }
      });

      it('the topic accepts CloudWatch alarms, and an e-mail subscription only when alarmEmail is set', () => {
        const t = template();
        const statement = t.Resources.AlarmTopicPolicy.Properties.PolicyDocument.Statement[0];
        expect(statement).to.include({ Effect: 'Allow', Action: 'sns:Publish' });
        expect(statement.Principal).to.deep.equal({ Service: 'cloudwatch.amazonaws.com' });
        expect(t.Resources.AlarmEmailSubscription.Condition).to.equal('HasAlarmEmail');
        expect(t.Parameters.AlarmEmail.Default).to.equal('');
        expect(t.Resources.BillingAlarm.Condition).to.equal('HasBillingAlarm');
        expect(t.Parameters.BillingAlarmUsd.Default).to.equal('0');
      });

      it(`CloudFront's paid additional metrics are ${stage === 'prod' ? 'on' : 'off'}`, () => {
        const t = template();
        const subscription = t.Resources.ImageDistributionAdditionalMetrics;
        expect(subscription.Type).to.equal('AWS::CloudFront::MonitoringSubscription');
        expect(subscription.Condition).to.equal('AdditionalMetricsEnabled');
        expect(subscription.Properties.DistributionId).to.deep.equal({ Ref: 'ImageDistribution' });
        const [left, right] = t.Conditions.AdditionalMetricsEnabled['Fn::Equals'];
        expect(left === right).to.equal(stage === 'prod');
      });

      it('the dashboard reads CloudFront in us-east-1 with its dimensions, and the embedded metrics in every edge region', () => {
        const t = template();
        const widgets = dashboardOf(t).widgets;
        const references = new Set<string>();
        const edgeRegions = new Set<string>();
        const embedded = new Set<string>();
        for (const widget of widgets) {
          for (const line of widget.properties.metrics) {
            const options = (typeof line.at(-1) === 'object' ? line.at(-1) : {}) as Record<string, string>;
            if (typeof line[0] === 'object') {
              // A SEARCH expression: it names its metric and dimensions.
              const expression = (line[0] as { expression: string }).expression;
              const match = /\{([^}]+)\}.*MetricName="([A-Za-z]+)"/.exec(expression);
              expect(match, expression).to.not.equal(null);
              const [namespace, ...dimensions] = (match?.[1] ?? '').split(',');
              const name = match?.[2] as keyof typeof METRICS;
              expect(namespace).to.equal(METRICS_NAMESPACE);
              expect(METRICS, expression).to.have.property(name);
              expect(dimensions).to.deep.equal(['Stage', 'Function', ...METRICS[name].by]);
              expect(expression).to.include(`Stage="${stage}"`);
              continue;
            }
            const [namespace, name, ...rest] = line as string[];
            const dimensions = Object.fromEntries(
              rest.filter((v) => typeof v === 'string').flatMap((v, i, all) => (i % 2 === 0 ? [[v, all[i + 1]]] : [])),
            );
            for (const value of Object.values(dimensions)) {
              for (const ref of String(value).matchAll(/\$\{([A-Za-z0-9]+)\}/g)) references.add(ref[1] ?? '');
            }
            if (namespace === 'AWS/CloudFront') {
              expect(CLOUDFRONT_METRICS, name).to.have.property(name ?? '');
              expect(dimensions).to.deep.equal({ Region: 'Global', DistributionId: DISTRIBUTION_ID_IN_SUB });
              expect(options.region).to.equal('us-east-1');
              expect(options.stat).to.equal(CLOUDFRONT_METRICS[name ?? '']);
            } else if (namespace === 'AWS/Lambda') {
              expect(LAMBDA_METRICS).to.include(name);
            } else {
              expect(namespace).to.equal(METRICS_NAMESPACE);
              expect(METRICS, name).to.have.property(name ?? '');
              expect(METRICS[name as keyof typeof METRICS].by).to.deep.equal([]);
              expect(dimensions).to.deep.equal({ Stage: stage, Function: 'originResponse' });
              embedded.add(name ?? '');
              edgeRegions.add(options.region ?? '');
            }
          }
        }
        expect(edgeRegions.size).to.equal(EDGE_REGION_COUNT);
        // The dashboard and the CLI (logs, stats) look in the same regions.
        expect([...edgeRegions].sort()).to.deep.equal([...EDGE_REGIONS].sort());
        expect(require('../../resources/dashboard.cjs').EDGE_REGIONS).to.deep.equal([...EDGE_REGIONS]);
        for (const name of [
          'Misses',
          'TransformTime',
          'StoreTime',
          'OutputBytes',
          'OriginalBytes',
          'Redirects',
          'Busy',
        ])
          expect(embedded, name).to.include(name);
        for (const ref of references) expect(t.Resources, `Fn::Sub names ${ref}`).to.have.property(ref);
      });
    });
  }

  it('the packaged prod origin-response writes one valid EMF line per request, reading a master-key keyring from SSM', async function () {
    this.timeout(120_000);
    const packaged = stages.prod;
    const config = createConfig(edgeConfigFrom(packaged.state.service.custom.edgeConfig));
    const s3 = await startS3rver({
      directory: join(deployWorkDir(), 's3rver-monitoring'),
      buckets: [config.originalsBucket, config.derivativesBucket],
    });
    // Mid-rotation: the parameter is a keyring, and the original was wrapped by its second key.
    const [newHex, oldHex] = [generateMasterKeyHex(), generateMasterKeyHex()];
    const keyring = formatKeyring([parseMasterKey(newHex), parseMasterKey(oldHex)]);
    const ssm = await startSsmServer({ '/edge-resizer/prod/master-key': keyring }, { credentials: LOCAL_CREDENTIALS });
    const client = createS3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      credentials: LOCAL_CREDENTIALS,
      timeoutMs: 5000,
      maxAttempts: 2,
    });
    const store = createS3Store({
      client,
      originalsBucket: config.originalsBucket,
      derivativesBucket: config.derivativesBucket,
    });
    const lines: string[] = [];
    const log = console.log;
    try {
      const { body, metadata } = encryptBuffer(fixture('photos/fig.jpg'), parseMasterKey(oldHex));
      await store.putOriginal('photos/fig.jpg', body, metadata, body.length);
      const dirs = {
        originRequest: await unpackedFunction('prod', 'originRequest'),
        originResponse: await unpackedFunction('prod', 'originResponse'),
      };
      const load = (name: keyof typeof dirs, file: string) =>
        (require(join(dirs[name], file)) as { handler: (event: unknown) => Promise<unknown> }).handler;
      const env = {
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: 'monitoring-test-session',
      };
      await withEnv(env, async () => {
        const originRequest = load('originRequest', 'src/entry/origin-request.js');
        const originResponse = load('originResponse', 'src/entry/origin-response.js');
        console.log = (...args: unknown[]) => lines.push(args.map(String).join(' '));
        try {
          // prod snaps widths to allowedWidths: 128 is one of them.
          const forwarded = (await originRequest(
            originRequestEvent({ uri: '/photos/fig.jpg', querystring: 'width=128', accept: 'image/webp' }),
          )) as CloudFrontRequest;
          const result = (await originResponse(originResponseEvent(forwarded, 403))) as CloudFrontResultResponse;
          expect(result.status, result.body).to.equal('200');
          expect((await sharp(Buffer.from(result.body ?? '', 'base64')).metadata()).width).to.equal(128);
          const missing = (await originRequest(
            originRequestEvent({ uri: '/photos/none.jpg', querystring: 'width=128', accept: 'image/webp' }),
          )) as CloudFrontRequest;
          expect(
            ((await originResponse(originResponseEvent(missing, 403))) as CloudFrontResultResponse).status,
          ).to.equal('404');
        } finally {
          console.log = log;
        }
      });
      const emf = lines.filter((line) => line.includes('"_aws"'));
      expect(emf, lines.join('\n')).to.have.length(2);
      for (const line of emf) expect(emfProblems(line)).to.deep.equal([]);
      const [miss, missing] = emf.map((line) => JSON.parse(line));
      expect(miss).to.include({ Stage: 'prod', Function: 'originResponse', Misses: 1, Served: 1 });
      expect(emfMetrics(emf[0] ?? '').OriginalBytes).to.equal(fixture('photos/fig.jpg').length);
      expect(missing).to.include({ Stage: 'prod', ErrorCode: 'not_found', Errors: 1 });
    } finally {
      console.log = log;
      client.destroy();
      await ssm.close();
      await s3.close();
    }
  });
});
