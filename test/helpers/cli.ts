/** Runs the real `edge-resizer` bin in a child process, launched the ways users launch it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/edge-resizer.mjs', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * How the bin is started: `node` is `node bin/edge-resizer.mjs` with no Node flags (the case
 * that once lost the shebang's flag), `exec` runs the file itself (its shebang), `npx` is
 * `npx edge-resizer` in the repository.
 */
export type Launch = 'node' | 'exec' | 'npx';

export function binCommand(launch: Launch, args: string[]): { command: string; args: string[] } {
  if (launch === 'exec') return { command: BIN, args };
  if (launch === 'npx') return { command: 'npx', args: ['--no-install', 'edge-resizer', ...args] };
  return { command: process.execPath, args: [BIN, ...args] };
}

/** Strips the test runner's Node options (mocha passes --openssl-legacy-provider to its workers). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DEBUG: '', ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Resolves once stdout holds `text`; rejects after `timeoutMs` with what it printed. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

/** Starts the bin and hands back its live output, for a command that runs until stopped (`--follow`). */
export function startCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; launch?: Launch } = {},
): CliProcess {
  const { command, args: argv } = binCommand(options.launch ?? 'node', args);
  const child = spawn(command, argv, {
    cwd: options.cwd ?? REPO_ROOT,
    env: userEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const waitFor = async (text: string, timeoutMs = 45_000) => {
    const until = Date.now() + timeoutMs;
    while (!stdout.includes(text)) {
      if (Date.now() > until)
        throw new Error(`edge-resizer ${args.join(' ')} never printed ${text}:\n${stdout}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitFor };
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; launch?: Launch } = {},
): Promise<CliResult> {
  const run = startCli(args, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`edge-resizer ${args.join(' ')} timed out\n${run.stderr()}`));
    }, options.timeoutMs ?? 30_000);
    void run.exited.then((code) => {
      clearTimeout(timer);
      resolve({ code, stdout: run.stdout(), stderr: run.stderr() });
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  /** The local CDN's base URL, as printed. */
  url: string;
  /** The embedded S3's endpoint, from the `storage` log line. */
  s3Endpoint: string;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `edge-resizer serve …` and waits until it prints its URLs. */
export function startServe(
  args: string[],
  options: { launch?: Launch; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<ServeProcess> {
  const { command, args: argv } = binCommand(options.launch ?? 'node', ['serve', ...args]);
  const child = spawn(command, argv, {
    cwd: options.cwd ?? REPO_ROOT,
    env: userEnv({ LOG_LEVEL: 'info', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that npx's children stop with it.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const stop = async (signal: NodeJS.Signals = 'SIGINT') => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-(child.pid as number), signal);
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop('SIGKILL');
      reject(new Error(`serve printed no URL:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before printing its URL:\n${stderr}`));
    });
    const check = () => {
      const match = /Playground\s+(http:\/\/\S+?)\/?\s/.exec(stderr);
      const storage = stdout
        .split('\n')
        .filter((line) => line.startsWith('{') && line.endsWith('}'))
        .map((line) => JSON.parse(line) as { message?: string; s3?: string })
        .find((entry) => entry.message === 'storage');
      if (!match || !storage) return;
      clearTimeout(timer);
      resolve({
        child,
        url: match[1] as string,
        s3Endpoint: storage.s3 ?? '',
        stdout: () => stdout,
        stderr: () => stderr,
        stop,
      });
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      check();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      check();
    });
  });
}
