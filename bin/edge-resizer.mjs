#!/usr/bin/env node
// The `edge-resizer` command. The source is TypeScript, run through tsx, so
// there is no build step between a clone and a working CLI.
//
// The embedded S3 server (s3rver) pages listings with DES, which OpenSSL 3
// keeps in its legacy provider. A shebang flag is lost when the bin is started
// as `node bin/edge-resizer.mjs`, so the bin itself checks that DES works and,
// where it does not, runs itself again once with `--openssl-legacy-provider`,
// however it was launched (`npx edge-resizer`, `node bin/…`, direct exec).
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const REEXEC_MARK = 'EDGE_RESIZER_LEGACY_PROVIDER';

function desWorks() {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8)).final();
    return true;
  } catch {
    return false;
  }
}

if (desWorks() || process.env[REEXEC_MARK] === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else {
  const child = spawn(
    process.execPath,
    [...process.execArgv, '--openssl-legacy-provider', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, [REEXEC_MARK]: '1' } },
  );
  // A terminal's Ctrl-C reaches both processes; a signal sent to this one alone is passed on.
  // Either way this process waits for the child and exits as it did.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('error', (error) => {
    process.stderr.write(`edge-resizer: cannot start node: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
