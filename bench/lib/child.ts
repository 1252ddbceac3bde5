/**
 * Servers under test run in child processes, so the load generator (this
 * process) does not share their event loop, and their memory is theirs alone.
 * A child answers `{ id, op, args }` messages with `{ id, ok, value | error }`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Child {
  pid: number;
  call<T>(op: string, args?: unknown): Promise<T>;
  /** Asks the child to close its servers, then waits for it to exit (killing it after 10 s). */
  close(): Promise<void>;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** Forks a TypeScript child through tsx, with the flags the CLI itself runs with. */
export function forkChild(entry: URL, env: NodeJS.ProcessEnv = {}): Child {
  const child: ChildProcess = fork(fileURLToPath(entry), [], {
    execArgv: ['--openssl-legacy-provider', '--expose-gc', '--import', import.meta.resolve('tsx')],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (message: Reply) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(message.error));
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`bench child exited (${signal ?? code})`));
    pending.clear();
  });

  return {
    pid: child.pid ?? 0,
    call<T>(op: string, args?: unknown): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, op, args }, (error) => {
          if (error) {
            pending.delete(id);
            reject(error);
          }
        });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        await this.call('close').catch(() => undefined);
        child.disconnect();
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The child side: serves `handlers` over IPC; exits when the parent goes away. */
export function serveChild(handlers: Record<string, (args: never) => unknown>): void {
  // As the CLI does (src/cli/main.ts): the pinned AWS SDK's Node-version notice is noise; other warnings still print.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (!warning.message.startsWith('NodeVersionSupportWarning'))
      process.stderr.write(`${warning.name}: ${warning.message}\n`);
  });
  process.on('message', async (message: { id: number; op: string; args: never }) => {
    const handler = handlers[message.op];
    try {
      if (!handler) throw new Error(`unknown op ${message.op}`);
      const value = await handler(message.args);
      process.send?.({ id: message.id, ok: true, value: value ?? null });
    } catch (error) {
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
