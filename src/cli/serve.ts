/** `edge-resizer serve`: the local CDN until Ctrl-C. */
import { isLogLevel } from '../core/log.js';
import { ensurePlaygroundBuilt } from '../local/playground-build.js';
import { startLocalServer } from '../local/server.js';
import { holdPlaygroundUntil } from '../local/static.js';
import { CliError, env } from './common.js';
import { readSigningKeys } from './keys.js';
import { teeToLocalLog } from './local-log-file.js';
import { loadStageConfig } from './stage-config.js';

export interface ServeOptions {
  port: string;
  host: string;
  dataDir: string;
  /** A JSON file of stage settings (EDGE_RESIZER_CONFIG). */
  config?: string;
}

export async function serve(options: ServeOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`Invalid port '${options.port}'`, 2);
  const level = env('LOG_LEVEL') ?? 'info';
  if (!isLogLevel(level)) throw new CliError(`LOG_LEVEL must be debug, info, warn, error or silent, not '${level}'`, 2);
  const configFile = options.config ?? env('EDGE_RESIZER_CONFIG');
  const settings = configFile ? await loadStageConfig(configFile) : {};
  // A signing keys file broken by hand stops the start with its name, not a 500 on every signed URL.
  await readSigningKeys(options.dataDir);
  const started = performance.now();
  // A fresh clone has no web/dist: build it alongside the start.
  const playground = ensurePlaygroundBuilt({
    onBuild: () => process.stderr.write('  Building the playground (first start, or its sources changed)…\n'),
  });
  // The server listens before the build ends (images need no playground): `/` is held until it has.
  holdPlaygroundUntil(playground);
  const server = await startLocalServer({
    dataDir: options.dataDir,
    host: options.host,
    port,
    s3Endpoint: env('S3_ENDPOINT'),
    dynamoEndpoint: env('DYNAMODB_ENDPOINT'),
    apiToken: env('API_TOKEN'),
    signingSecret: env('SIGNING_SECRET'),
    logLevel: level,
    log: teeToLocalLog(options.dataDir),
    config: settings,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE')
      throw new CliError(`Port ${port} on ${options.host} is in use: pass --port or set PORT`);
    throw error;
  });
  const built = await playground;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    [
      '',
      `  edge-resizer local CDN ready in ${seconds}s`,
      '',
      `  Playground   ${server.url}/${built.state === 'unavailable' ? `   (not available: ${built.reason})` : ''}`,
      `  Try          ${server.url}/samples/mountains.jpg?width=400`,
      `               ${server.url}/samples/fig.jpg?width=300&height=300&fit=cover&format=avif`,
      `  API          ${server.url}/api/images   (Authorization: Bearer <${env('API_TOKEN') ? 'API_TOKEN' : `token in ${options.dataDir}/api-token`}>)`,
      `  Data         ${options.dataDir}/`,
      ...(configFile ? [`  Config       ${configFile}`] : []),
      '',
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    let stoppingSince: number | undefined;
    const stop = () => {
      // The bin's launcher passes a signal on that a terminal has sent to both processes: a
      // repeat within a second is that echo; a later one is an impatient user.
      if (stoppingSince !== undefined) {
        if (performance.now() - stoppingSince > 1000) process.exit(130);
        return;
      }
      stoppingSince = performance.now();
      process.stderr.write('\n  Stopping…\n');
      server.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
