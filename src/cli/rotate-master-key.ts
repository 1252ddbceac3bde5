/**
 * `edge-resizer rotate-master-key [--data-dir D]`: re-wraps every original's
 * data key under a new master key, re-encrypting no body, resumably, then
 * reads every original back with the new key alone.
 *
 *   1. Start: a new key is made and the key material becomes the keyring
 *      `new, old` (src/core/envelope.ts): readers that load it read what
 *      either key wrapped, writers wrap with the new one. A keyring already
 *      there means a rotation is under way: it resumes with the keyring's keys.
 *   2. Walk every object of the originals bucket in key order; one not yet
 *      wrapped by the new key (its `resizer-kid`, confirmed by unwrapping) gets
 *      its data key re-wrapped in place (CopyObject onto itself, on condition
 *      of its ETag, so a concurrent write wins and the object is tried again).
 *      After each page the last key done is written to the progress marker; a
 *      re-run starts after it and skips what is done.
 *   3. Verify: read every original and decrypt it, tag checked, with the new
 *      key alone. Any failure keeps the keyring (nothing becomes unreadable)
 *      and resets the marker, so the next run looks at everything again.
 *   4. Done: the key material is the new key alone; the marker is removed.
 *
 * The window: a process that read the key before step 1 holds the old key
 * only and cannot read what step 2 re-wrapped. Locally, stop `serve` first
 * (it reads the key file at start). docs/operations.md has the deployed
 * procedure.
 *
 * A re-wrapped original has a new wrapped key, which is part of its revision
 * (src/core/render.ts): each derivative is rendered again on its next request.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createConfig } from '../core/config.js';
import {
  decryptBuffer,
  formatKeyring,
  isWrappedBy,
  keyringOf,
  masterKeyId,
  parseMasterKey,
  rewrapDataKey,
} from '../core/envelope.js';
import { HttpError } from '../core/errors.js';
import { startS3rver } from '../local/embedded-servers.js';
import { originalObjects } from '../storage/original-objects.js';
import { createS3Store, type S3Store } from '../storage/s3-store.js';
import { readSsmParameter } from '../storage/ssm-parameter.js';
import { putSsmParameter } from '../storage/ssm-write.js';
import { createLocalS3Client, createLocalS3Store } from '../wiring/local.js';
import { CliError, EXIT, env, forEachLimited } from './common.js';
import { checkStage, DEFAULT_NAME_PREFIX, HOME_REGION } from './stage-resources.js';

/** Where the key material lives: the data dir's key file, or (deployed) the SSM parameter. */
export interface KeyMaterial {
  read(): Promise<string>;
  write(text: string): Promise<void>;
}

export interface RotationProgress {
  /** The keyring's new key, by id: a marker of another rotation is not resumed. */
  keyId: string;
  /** The last stored key of the originals bucket done; '' from the start. */
  after: string;
}

export interface ProgressMarker {
  read(): Promise<RotationProgress | undefined>;
  write(progress: RotationProgress): Promise<void>;
  clear(): Promise<void>;
}

export type RotationStore = Pick<S3Store, 'context' | 'headOriginal' | 'getOriginal' | 'updateOriginalMetadata'>;

export interface RotationDeps {
  store: RotationStore;
  keys: KeyMaterial;
  progress: ProgressMarker;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  /** Objects worked on at once. @default 4 */
  concurrency?: number;
  /** Test seam: called after each page of the walk (to stop a run halfway). */
  afterPage?: (progress: RotationProgress) => Promise<void> | void;
  /** Listing page size. @default 1000 */
  pageSize?: number;
  /**
   * Once verified, make the key material the new key alone and remove the
   * marker. Deployed, the rotate phase passes false: containers that loaded the
   * prepared keyring still wrap with the old key until they reload. @default true
   */
  finish?: boolean;
}

export interface RotationReport {
  keyId: string;
  previousKeyIds: string[];
  /** Objects whose data key this run re-wrapped. */
  rewrapped: number;
  /** Objects already wrapped by the new key (an earlier run, or written since). */
  alreadyDone: number;
  /** Originals read back and authenticated with the new key alone. */
  verified: number;
}

/** Writes after a conflict (a concurrent write to the same object) before giving up on one object. */
const REWRAP_ATTEMPTS = 3;

export async function runRotation(deps: RotationDeps): Promise<RotationReport> {
  const log = deps.log ?? (() => {});
  const concurrency = deps.concurrency ?? 4;
  // 1. The keyring: resume one under way, or start one.
  let keyring = parseMasterKey(await deps.keys.read());
  if (keyringOf(keyring).length === 1) {
    const fresh = randomBytes(32);
    await deps.keys.write(formatKeyring([fresh, keyring]));
    keyring = parseMasterKey(await deps.keys.read());
    log(`new master key ${masterKeyId(keyring)}; the key material now holds it and the old one`);
  } else {
    log(`resuming the rotation to master key ${masterKeyId(keyring)}`);
  }
  const [newKey, ...previous] = keyringOf(keyring) as [Buffer, ...Buffer[]];
  const keyId = masterKeyId(newKey);
  const marker = await deps.progress.read();
  const progress: RotationProgress = { keyId, after: marker?.keyId === keyId ? marker.after : '' };

  // 2. Re-wrap what the new key has not wrapped yet.
  let rewrapped = 0;
  let alreadyDone = 0;
  const unreadable: string[] = [];
  for await (const page of originalObjects(deps.store, progress.after, deps.pageSize)) {
    await forEachLimited(page, concurrency, async (object) => {
      const outcome = await rewrapOne(deps.store, object.key, keyring, newKey);
      if (outcome === 'rewrapped') rewrapped += 1;
      else if (outcome === 'done') alreadyDone += 1;
      else if (outcome === 'unreadable') unreadable.push(object.key);
    });
    progress.after = page[page.length - 1]?.stored ?? progress.after;
    await deps.progress.write(progress);
    await deps.afterPage?.(progress);
    log(`re-wrapped ${rewrapped}, already done ${alreadyDone}, up to ${progress.after}`);
  }

  // 3. Every original reads back with the new key alone (a copy of it: no keyring attached).
  const newKeyAlone = Buffer.from(newKey);
  let verified = 0;
  const failed: string[] = [...unreadable];
  for await (const page of originalObjects(deps.store, '', deps.pageSize)) {
    await forEachLimited(page, concurrency, async (object) => {
      const stored = await deps.store.getOriginal(object.key);
      if (!stored) return; // deleted since the walk
      try {
        decryptBuffer(stored.body, stored.metadata, newKeyAlone);
        verified += 1;
      } catch {
        if (!failed.includes(object.key)) failed.push(object.key);
      }
    });
  }
  if (failed.length > 0) {
    await deps.progress.write({ keyId, after: '' });
    throw new CliError(
      `${failed.length} original(s) do not read back with the new key (${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', …' : ''}); the key material keeps both keys: run rotate-master-key again`,
    );
  }

  // 4. Only the new key is needed now.
  if (deps.finish !== false) {
    await deps.keys.write(formatKeyring([newKey]));
    await deps.progress.clear();
  }
  return { keyId, previousKeyIds: previous.map(masterKeyId), rewrapped, alreadyDone, verified };
}

async function rewrapOne(
  store: RotationStore,
  key: string,
  keyring: Buffer,
  newKey: Buffer,
): Promise<'rewrapped' | 'done' | 'gone' | 'unreadable'> {
  for (let attempt = 1; ; attempt += 1) {
    const head = await store.headOriginal(key);
    if (!head) return 'gone';
    if (isWrappedBy(head.metadata, newKey)) return 'done';
    let patch: Record<string, string>;
    try {
      patch = rewrapDataKey(head.metadata, keyring);
    } catch (error) {
      if (error instanceof HttpError && error.code === 'decrypt_failed') return 'unreadable';
      throw error;
    }
    try {
      // On condition of the ETag just read: a write in between makes it fail, and we look again.
      const updated = await store.updateOriginalMetadata(key, patch);
      return updated ? 'rewrapped' : 'gone';
    } catch (error) {
      if (attempt >= REWRAP_ATTEMPTS) throw error;
    }
  }
}

// ------------------------------------------------------------------ the CLI

export interface RotateOptions {
  dataDir: string;
  /** Deployed: the stage whose SSM parameter and originals bucket are rotated. */
  stage?: string;
  /** Deployed: `prepare`, `rotate` or `finish` (docs/operations.md). */
  phase?: string;
  /** The stack's `namePrefix` parameter (names the buckets). */
  namePrefix?: string;
}

/** The data dir's key file, written whole or not at all (a temporary file renamed over it), mode 0600. */
export function keyFile(path: string): KeyMaterial {
  return {
    read: () => readFile(path, 'utf8'),
    async write(text) {
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, text, { mode: 0o600 });
      await rename(temporary, path);
    },
  };
}

export function progressFile(path: string): ProgressMarker {
  return {
    async read() {
      try {
        const value = JSON.parse(await readFile(path, 'utf8')) as Partial<RotationProgress>;
        if (typeof value.keyId === 'string' && typeof value.after === 'string')
          return { keyId: value.keyId, after: value.after };
      } catch {
        // none, or unreadable: start from the beginning
      }
      return undefined;
    },
    async write(progress) {
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(progress), { mode: 0o600 });
      await rename(temporary, path);
    },
    clear: () => rm(path, { force: true }),
  };
}

/** Locally: the data dir's key file and its embedded s3rver (or `S3_ENDPOINT`). Stop `serve` first. */
export async function rotateMasterKey(options: RotateOptions): Promise<void> {
  if (options.stage !== undefined && options.stage !== 'local') {
    const report = await rotateDeployed(options, deployedDeps(checkStage(options.stage), options.namePrefix));
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const config = createConfig({ stage: 'local' });
  const keyPath = join(options.dataDir, 'master.key');
  try {
    await readFile(keyPath);
  } catch {
    throw new CliError(`No master key at ${keyPath}: nothing to rotate (start the local CDN once to create one)`);
  }
  const endpoint = env('S3_ENDPOINT');
  const s3rver = endpoint
    ? undefined
    : await startS3rver({
        directory: join(options.dataDir, 's3'),
        buckets: [config.originalsBucket, config.derivativesBucket, config.stagingBucket],
      });
  try {
    const store = createLocalS3Store(config, createLocalS3Client(config, endpoint ?? s3rver?.endpoint ?? ''));
    process.stderr.write('edge-resizer: rotating the master key; the local CDN must not be running on this data dir\n');
    const report = await runRotation({
      store,
      keys: keyFile(keyPath),
      progress: progressFile(join(options.dataDir, 'rotation.json')),
      log: (line) => process.stderr.write(`  ${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await s3rver?.close();
  }
}

// ------------------------------------------------------------------ deployed

export const PHASES = ['prepare', 'rotate', 'finish'] as const;
export type Phase = (typeof PHASES)[number];

/** What the deployed marker parameter holds: the phase reached and the walk's progress. */
interface DeployedMarker extends RotationProgress {
  phase: 'prepared' | 'rotating' | 'rotated';
}

export interface DeployedDeps {
  store: RotationStore;
  /** The master key parameter. */
  keys: KeyMaterial;
  /** The rotation's marker parameter (JSON); '{}' when none. */
  marker: KeyMaterial;
  log?: (line: string) => void;
  pageSize?: number;
}

/**
 * The deployed rotation in three phases, because every container reads the key
 * once: `prepare` makes the keyring `old, new` (old still wraps, new is
 * accepted) and stops, so containers can pick it up; `rotate` makes it
 * `new, old`, re-wraps and verifies; `finish`, once every container has reloaded,
 * walks again (what containers of the prepared keyring wrapped with the old key
 * in between), verifies and leaves the new key alone.
 */
export async function rotateDeployed(options: RotateOptions, deps: DeployedDeps): Promise<Record<string, unknown>> {
  const phase = (options.phase ?? 'rotate') as Phase;
  if (!(PHASES as readonly string[]).includes(phase)) {
    throw new CliError(`--phase takes ${PHASES.join(', ')}, not '${options.phase}'`, EXIT.usage);
  }
  const log = deps.log ?? (() => {});
  const marker = await readMarker(deps.marker);
  const keys = keyringOf(parseMasterKey(await deps.keys.read()));
  if (phase === 'prepare') {
    if (keys.length > 1) throw new CliError('A rotation is already under way (the key parameter holds a keyring)');
    const fresh = randomBytes(32);
    await deps.marker.write(JSON.stringify({ phase: 'prepared', keyId: masterKeyId(fresh), after: '' }));
    await deps.keys.write(formatKeyring([keys[0] as Buffer, fresh]));
    log('prepared: the key parameter holds the old key (still wrapping) and the new one');
    return { phase: 'prepared', keyId: masterKeyId(fresh) };
  }
  const newKey = marker && keys.find((key) => masterKeyId(key) === marker.keyId);
  if (!marker || !newKey) throw new CliError('No prepared rotation: run rotate-master-key --phase prepare first');
  const expected = phase === 'rotate' ? ['prepared', 'rotating'] : ['rotated'];
  if (!expected.includes(marker.phase)) {
    throw new CliError(
      `The rotation is ${marker.phase}: --phase ${phase} comes after ${phase === 'rotate' ? 'prepare' : 'rotate'}`,
    );
  }
  if (keys[0] !== newKey) {
    // The new key wraps from now on; the old one is still accepted.
    await deps.keys.write(formatKeyring([newKey, ...keys.filter((key) => key !== newKey)]));
  }
  const markerPhase: DeployedMarker['phase'] = phase === 'rotate' ? 'rotating' : 'rotated';
  const progress: ProgressMarker = {
    read: async () => (phase === 'rotate' ? marker : { ...marker, after: '' }),
    write: (p) => deps.marker.write(JSON.stringify({ phase: markerPhase, ...p })),
    clear: () => deps.marker.write('{}'),
  };
  const report = await runRotation({
    store: deps.store,
    keys: deps.keys,
    progress,
    log,
    pageSize: deps.pageSize,
    finish: phase === 'finish',
  });
  if (phase === 'rotate') await deps.marker.write(JSON.stringify({ phase: 'rotated', keyId: report.keyId, after: '' }));
  return { phase: phase === 'rotate' ? 'rotated' : 'finished', ...report };
}

async function readMarker(parameter: KeyMaterial): Promise<DeployedMarker | undefined> {
  try {
    const value = JSON.parse(await parameter.read()) as Partial<DeployedMarker>;
    if (
      (value.phase === 'prepared' || value.phase === 'rotating' || value.phase === 'rotated') &&
      typeof value.keyId === 'string' &&
      typeof value.after === 'string'
    )
      return { phase: value.phase, keyId: value.keyId, after: value.after };
  } catch {
    // no marker
  }
  return undefined;
}

/** The stage's parameters and originals bucket, with the SDK's usual credentials. */
function deployedDeps(stage: string, namePrefix = DEFAULT_NAME_PREFIX): DeployedDeps {
  const client = new S3Client({ region: HOME_REGION });
  const credentials = async () => {
    const resolved = await client.config.credentials();
    return {
      accessKeyId: resolved.accessKeyId,
      secretAccessKey: resolved.secretAccessKey,
      sessionToken: resolved.sessionToken,
    };
  };
  const ssm = { region: HOME_REGION, credentials, timeoutMs: 10_000 };
  const parameter = (name: string, missing?: string): KeyMaterial => ({
    read: () =>
      readSsmParameter({ ...ssm, maxAttempts: 3 }, name).catch((error: { type?: string }) => {
        if (error.type === 'ParameterNotFound' && missing !== undefined) return missing;
        throw error;
      }),
    write: (text) => putSsmParameter(ssm, name, text),
  });
  return {
    store: createS3Store({
      client,
      originalsBucket: `${namePrefix}-${stage}-originals`,
      derivativesBucket: `${namePrefix}-${stage}-derivatives`,
    }),
    keys: parameter(`/edge-resizer/${stage}/master-key`),
    marker: parameter(`/edge-resizer/${stage}/master-key-rotation`, '{}'),
    log: (line) => process.stderr.write(`  ${line}\n`),
  };
}
