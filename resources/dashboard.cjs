/**
 * The stage's CloudWatch dashboard body (resources/monitoring.yml), as a
 * CloudFormation `Fn::Sub` of the dashboard JSON: serverless calls this with
 * its variable resolver. Three rows: what viewers got (CloudFront, global,
 * read in us-east-1), what the Lambda@Edge functions did (CloudFront's own
 * Lambda@Edge error counts, then the functions' embedded metrics, one line per
 * region: CloudWatch Logs extracts them where the replica ran), and the API.
 *
 * The embedded metric names and dimensions are those of src/core/metrics.ts;
 * test/deploy/monitoring.test.ts checks every one against that catalogue.
 */

/** The regions with a regional edge cache, where Lambda@Edge replicas run and log: the CLI's list. */
const EDGE_REGIONS = require('../src/cli/edge-regions.json');

const NAMESPACE = 'edge-resizer';
const width = 8;
const height = 6;

function distributionMetric(name, options = {}) {
  return ['AWS/CloudFront', name, 'Region', 'Global', 'DistributionId', '${ImageDistribution}', { region: 'us-east-1', ...options }];
}

/** One line per edge region for an embedded metric of the origin-response function. */
function perRegion(stage, name, stat) {
  return EDGE_REGIONS.map((region) => [
    NAMESPACE,
    name,
    'Stage',
    stage,
    'Function',
    'originResponse',
    { region, stat, label: region },
  ]);
}

/** One SEARCH expression per edge region (a SEARCH reads one region), ids `<prefix><n>`. */
function searchPerRegion(idPrefix, expression) {
  return EDGE_REGIONS.map((region, i) => [{ expression, id: `${idPrefix}${i}`, region, label: region }]);
}

function graph(title, metrics, extra = {}) {
  return {
    type: 'metric',
    width,
    height,
    properties: { title, metrics, view: 'timeSeries', stacked: false, region: 'us-east-1', period: 300, ...extra },
  };
}

function dashboard(stage) {
  const widgets = [
    graph('Requests (CloudFront)', [distributionMetric('Requests', { stat: 'Sum' })]),
    graph('Error rates (CloudFront, %)', [
      distributionMetric('4xxErrorRate', { stat: 'Average' }),
      distributionMetric('5xxErrorRate', { stat: 'Average' }),
    ]),
    graph('Bytes downloaded (CloudFront)', [distributionMetric('BytesDownloaded', { stat: 'Sum' })]),
    graph('Lambda@Edge errors (CloudFront)', [
      distributionMetric('LambdaExecutionError', { stat: 'Sum' }),
      distributionMetric('LambdaValidationError', { stat: 'Sum' }),
      distributionMetric('LambdaLimitExceededError', { stat: 'Sum' }),
    ]),
    graph('Cache hit rate (additional metrics, %)', [distributionMetric('CacheHitRate', { stat: 'Average' })]),
    graph('Misses by region', perRegion(stage, 'Misses', 'Sum')),
    graph('Transform time p90 by region (ms)', perRegion(stage, 'TransformTime', 'p90')),
    graph('Store time p90 by region (ms)', perRegion(stage, 'StoreTime', 'p90')),
    graph('Output bytes by region (sum)', perRegion(stage, 'OutputBytes', 'Sum')),
    graph('Original bytes by region (sum)', perRegion(stage, 'OriginalBytes', 'Sum')),
    graph('Stored derivatives served by region', perRegion(stage, 'StoredHits', 'Sum')),
    graph('302s (too large to generate) by region', perRegion(stage, 'Redirects', 'Sum')),
    graph('Busy (503) by region', perRegion(stage, 'Busy', 'Sum')),
    graph(
      'Formats served (misses, all regions)',
      searchPerRegion('f', `SEARCH('{${NAMESPACE},Stage,Function,Format} Stage="${stage}" MetricName="Served"', 'Sum', 300)`),
    ),
    graph(
      'Errors by code (origin-response, all regions)',
      searchPerRegion(
        'e',
        `SEARCH('{${NAMESPACE},Stage,Function,ErrorCode} Stage="${stage}" Function="originResponse" MetricName="Errors"', 'Sum', 300)`,
      ),
    ),
    graph('API: invocations, errors, throttles', [
      ['AWS/Lambda', 'Invocations', 'FunctionName', '${ApiLambdaFunction}', { stat: 'Sum' }],
      ['AWS/Lambda', 'Errors', 'FunctionName', '${ApiLambdaFunction}', { stat: 'Sum' }],
      ['AWS/Lambda', 'Throttles', 'FunctionName', '${ApiLambdaFunction}', { stat: 'Sum' }],
    ]),
    graph('API: duration (ms)', [
      ['AWS/Lambda', 'Duration', 'FunctionName', '${ApiLambdaFunction}', { stat: 'p50' }],
      ['AWS/Lambda', 'Duration', 'FunctionName', '${ApiLambdaFunction}', { stat: 'p99' }],
    ]),
    graph('API: errors by code', [
      [
        {
          expression: `SEARCH('{${NAMESPACE},Stage,Function,ErrorCode} Stage="${stage}" Function="api" MetricName="Errors"', 'Sum', 300)`,
          id: 'a0',
        },
      ],
    ]),
  ];
  return { widgets };
}

module.exports = async ({ resolveVariable }) => {
  const stage = await resolveVariable('sls:stage');
  return { 'Fn::Sub': JSON.stringify(dashboard(stage)) };
};
module.exports.EDGE_REGIONS = EDGE_REGIONS;
module.exports.dashboard = dashboard;
