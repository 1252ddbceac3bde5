/**
 * The local CDN's own log file, `<data-dir>/logs/cdn.log`: `serve` writes
 * every JSON log line (and metrics line) to stdout and appends it here, so
 * `edge-resizer logs` and `stats` can read what the local CDN did. Bounded:
 * past `maxBytes` the file becomes `cdn.log.1` (replacing the older one) and a
 * new one starts, so the two never hold more than twice that.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const LOCAL_LOG_DIR = 'logs';
export const LOCAL_LOG_NAME = 'cdn.log';
/** A few MB: hours of local use, read back in well under a second. */
export const LOCAL_LOG_MAX_BYTES = 4 * 1024 * 1024;

export function localLogPath(dataDir: string): string {
  return join(dataDir, LOCAL_LOG_DIR, LOCAL_LOG_NAME);
}

/** The files to read, oldest first. */
export function localLogFiles(dataDir: string): string[] {
  const path = localLogPath(dataDir);
  return [`${path}.1`, path];
}

/**
 * A log sink that writes each line to `write` (stdout by default) and appends
 * it to the data dir's log file: the lines of one turn of the event loop in
 * one append, so a busy local CDN makes one write per turn, not per request;
 * what is pending is written when the process exits. A failing append (disk
 * full, directory removed) is reported once on stderr and never stops the CDN.
 */
export function teeToLocalLog(
  dataDir: string,
  options: { maxBytes?: number; write?: (line: string) => void } = {},
): (line: string) => void {
  const path = localLogPath(dataDir);
  const maxBytes = options.maxBytes ?? LOCAL_LOG_MAX_BYTES;
  const write = options.write ?? ((line: string) => console.log(line));
  let size: number | undefined;
  let failed = false;
  let pending: string[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const lines = pending;
    pending = [];
    if (failed || lines.length === 0) return;
    try {
      if (size === undefined) {
        mkdirSync(join(dataDir, LOCAL_LOG_DIR), { recursive: true, mode: 0o700 });
        size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
      }
      let chunk = '';
      for (const line of lines) {
        const text = `${line}\n`;
        const bytes = Buffer.byteLength(text);
        if (size + Buffer.byteLength(chunk) + bytes > maxBytes && size + chunk.length > 0) {
          if (chunk) appendFileSync(path, chunk, { mode: 0o600 });
          renameSync(path, `${path}.1`);
          size = 0;
          chunk = '';
        }
        chunk += text;
      }
      appendFileSync(path, chunk, { mode: 0o600 });
      size += Buffer.byteLength(chunk);
    } catch (error) {
      failed = true;
      process.stderr.write(`edge-resizer: not writing ${path} any more: ${(error as Error).message}\n`);
    }
  };
  process.once('exit', flush);

  return (line) => {
    write(line);
    if (failed) return;
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}
