/**
 * `edge-resizer`: the CLI. Each command lives in its own
 * file; this one only declares them. Exit codes: 0 ok, 1 failure (one line on
 * stderr, the stack only with DEBUG=1), 2 bad usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliError, DEFAULT_DATA_DIR, EXIT, env } from './common.js';
import { keygen } from './keygen.js';
import { keysAdd, keysList, keysRetire } from './keys.js';
import { logRetention } from './log-retention.js';
import { logs } from './logs.js';
import { purge } from './purge.js';
import { rotateMasterKey } from './rotate-master-key.js';
import { serve } from './serve.js';
import { sign } from './sign.js';
import { smoke } from './smoke.js';
import { stats } from './stats.js';
import { upload } from './upload.js';

// The AWS SDK warns once that releases after January 2027 need Node 22; we pin
// the SDK (package.json), so the warning is noise on every start. Others still print.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (!warning.message.startsWith('NodeVersionSupportWarning'))
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const dataDirOption = () =>
  new Option('--data-dir <dir>', 'state directory (DATA_DIR)').default(env('DATA_DIR') ?? DEFAULT_DATA_DIR);
const endpointOption = () => new Option('--endpoint <url>', 'CDN to talk to (default: the local one, HOST/PORT)');
const tokenOption = () => new Option('--token <token>', 'API token (API_TOKEN; default: <data-dir>/api-token)');

const program = new Command('edge-resizer')
  .description('On-the-fly image resizing CDN for AWS: local CDN, uploads, keys, signed URLs, purges, benchmarks.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('serve')
  .description('run the local CDN (what `npm start` runs)')
  .addOption(new Option('--port <port>', 'port, 0 for any free one (PORT)').default(env('PORT') ?? '3000'))
  .addOption(new Option('--host <host>', 'address to bind (HOST)').default(env('HOST') ?? '127.0.0.1'))
  .addOption(dataDirOption())
  .addOption(
    new Option(
      '--config <file>',
      'JSON file of stage settings, the fields of a serverless.yml stage (EDGE_RESIZER_CONFIG)',
    ),
  )
  .action(serve);

program
  .command('upload')
  .description('upload files or directories through the API; one JSON line per file unless on a TTY')
  .argument('<paths...>', 'files or directories')
  .option('--prefix <prefix>', 'key prefix, e.g. photos/', '')
  .addOption(endpointOption())
  .addOption(tokenOption())
  .option('--concurrency <n>', 'uploads at once', '4')
  .addOption(dataDirOption())
  .action(async (paths: string[], options) => {
    process.exitCode = await upload(paths, options);
  });

program
  .command('keygen')
  .description('write a new 256-bit master key (64 hex characters)')
  .option('--out <file>', 'write to this file (mode 0600) instead of stdout')
  .option('--force', 'overwrite an existing --out file')
  .action(keygen);

program
  .command('sign')
  .description('print the URL signed with SIGNING_SECRET')
  .argument('<url>', 'absolute URL or path with its query')
  .option('--expires <when>', '30s, 15m, 1h, 7d or a unix time', '1h')
  .option('--secret <secret>', "signing secret (default: SIGNING_SECRET, or with --kid the data dir's key)")
  .option('--kid <kid>', 'sign with this key of `keys add` (named in the URL)')
  .addOption(dataDirOption())
  .action(sign);

const keys = program
  .command('keys')
  .description(
    "manage the signing keys (locally the data dir's signing-keys.json, re-read by `serve`; deployed, with --kvs-arn, the stack's KeyValueStore)",
  );
const kvsArnOption = () =>
  new Option('--kvs-arn <arn>', 'deployed: the stack output SigningKeyStoreArn').env('SIGNING_KEYS_KVS_ARN');
keys
  .command('add')
  .description('add a signing key and print its secret once')
  .option('--kid <kid>', 'its name (default: a new one)')
  .addOption(dataDirOption())
  .addOption(kvsArnOption())
  .action(keysAdd);
keys
  .command('list')
  .description('one JSON line per key: kid, created, status (never the secret)')
  .option('--kid <kid>', 'only this key')
  .addOption(dataDirOption())
  .addOption(kvsArnOption())
  .action(keysList);
keys
  .command('retire')
  .description('retire a key: URLs signed with it get 403 within seconds, cache hits included')
  .requiredOption('--kid <kid>', 'the key to retire')
  .addOption(dataDirOption())
  .addOption(kvsArnOption())
  .action(keysRetire);

program
  .command('purge')
  .description('delete every derivative of <key> (and invalidate /<key>* when deployed)')
  .argument('<key>', 'image key, e.g. photos/cat.jpg')
  .addOption(endpointOption())
  .addOption(tokenOption())
  .addOption(dataDirOption())
  .action(purge);

program
  .command('smoke')
  .description(
    'check a deployment (or the local CDN) end to end: miss, hit, formats, preset, error, redirect, signing, staged upload; everything under _smoke/ is deleted after',
  )
  .requiredOption('--url <url>', 'the distribution URL, e.g. https://d123.cloudfront.net')
  .option('--api-url <url>', 'where /api/* is (default: --url)')
  .addOption(new Option('--token <token>', 'API token (API_TOKEN); without one the API steps are skipped'))
  .addOption(new Option('--signing-secret <secret>', 'the default signing key (SIGNING_SECRET) when signing is on'))
  .option('--json', 'one JSON line per step on stdout instead of lines on stderr')
  .option('--timeout <seconds>', 'per request', '60')
  .action(async (options) => {
    process.exitCode = await smoke(options);
  });

program
  .command('log-retention')
  .description(
    'set the retention of the Lambda@Edge log groups (/aws/lambda/us-east-1.<function>) in every region they appear in; the stack cannot',
  )
  .requiredOption('--stage <stage>', 'the deployed stage, e.g. dev or prod')
  .option('--days <days>', "retention in days, one of CloudWatch Logs' periods", '30')
  .option('--regions <list>', 'comma-separated regions (default: those with CloudFront regional edge caches)')
  .option('--dry-run', 'report what would change, change nothing')
  .action(async (options) => {
    process.exitCode = await logRetention(options);
  });

program
  .command('logs')
  .description("a function's log events from every region where it ran, merged by time (locally: the local CDN's log)")
  .option('--stage <stage>', 'deployed stage (dev, prod…); without it, or `local`, the data dir')
  .option('--function <name>', 'originResponse, originRequest, api or viewerRequest', 'originResponse')
  .option('--since <duration>', '30s, 15m, 2h or 7d', '15m')
  .option('--follow', 'keep polling for new events until Ctrl-C')
  .option('--filter <pattern>', 'CloudWatch Logs filter pattern (locally: a substring)')
  .option('--json', 'one JSON object per event, with the raw message')
  .option('--name-prefix <prefix>', "the stack's namePrefix parameter", 'edge-resizer')
  .addOption(dataDirOption())
  .action((options) => logs(options));

program
  .command('stats')
  .description('misses, hits, bytes saved, format mix and errors over a window, from the metrics of every region')
  .option('--stage <stage>', "deployed stage; without it, or `local`, the local CDN's log")
  .option('--since <duration>', '30s, 15m, 2h or 7d', '1h')
  .option('--distribution-id <id>', 'the stack output DistributionId, for viewer requests and hits (DISTRIBUTION_ID)')
  .option('--json', 'one JSON object')
  .addOption(dataDirOption())
  .action((options) => stats(options));

program
  .command('rotate-master-key')
  .description(
    "re-wrap every original's data key under a new master key (no body re-encrypted), resumably, then read each back; locally: stop serve first",
  )
  .option('--stage <stage>', 'deployed stage (its SSM key parameter and originals bucket); without it, the data dir')
  .option('--phase <phase>', 'deployed: prepare, then rotate, then finish (docs/operations.md)', 'rotate')
  .option('--name-prefix <prefix>', "the stack's namePrefix parameter", 'edge-resizer')
  .addOption(dataDirOption())
  .action((options) => rotateMasterKey(options));

program
  .command('bench')
  .description('run the benchmark suite; writes bench/results.json')
  .option('--quick', 'a short run (under a minute)')
  .action(async (options: { quick?: boolean }) => {
    const { runBench } = await import('../../bench/run.js');
    await runBench({ quick: options.quick === true });
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed the usage error (or the help) already.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof CliError) {
    process.stderr.write(`edge-resizer: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`edge-resizer: ${message}\n`);
  if (env('DEBUG') === '1' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return EXIT.failure;
}
