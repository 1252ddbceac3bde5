/**
 * Another process's memory, read from Linux's /proc, for tests that run the
 * server as a process of its own (so its RSS is not the test runner's).
 */
import { readFile } from 'node:fs/promises';

/** Resident set size of `pid` in bytes; 0 once the process is gone. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** The server's pid: the bin runs itself again with Node's legacy OpenSSL provider where needed. */
export async function serverPid(launcher: number): Promise<number> {
  const children = await readFile(`/proc/${launcher}/task/${launcher}/children`, 'utf8').catch(() => '');
  const child = Number(children.trim().split(/\s+/)[0]);
  return Number.isInteger(child) && child > 0 ? child : launcher;
}
