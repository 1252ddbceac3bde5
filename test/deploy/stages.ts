/**
 * `sls package` for dev and prod, offline (dummy credentials; only the npm
 * registry is used, to install linux-x64 sharp into the origin-response zip),
 * once per test run: every deploy test file awaits `packagedStages()` and
 * gets the same zips and templates. Each stage is packaged from its own copy
 * of the service so the two runs go in parallel without sharing
 * `.serverless/`.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EdgeResizerConfigInput } from '../../src/core/config.js';
import { unpack } from './packaged.js';
import { readZip, type ZipEntry } from './zip.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
export const { edgeConfigFrom } = require('../../esbuild.config.cjs') as {
  edgeConfigFrom: (input: unknown) => EdgeResizerConfigInput;
};

/** What `sls package` needs from the repository. */
const SERVICE_FILES = [
  'serverless.yml',
  'esbuild.config.cjs',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'resources',
  'scripts',
  'src',
];
export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];
export const PROD_SIGNING_SECRET = 'deploy-test-signing-secret';
export type FunctionName = 'originRequest' | 'originResponse' | 'api';
export const FUNCTIONS: readonly FunctionName[] = ['originRequest', 'originResponse', 'api'];
/** The handler file of each function inside its zip. */
export const ENTRY_FILE: Record<FunctionName, string> = {
  originRequest: 'src/entry/origin-request.js',
  originResponse: 'src/entry/origin-response.js',
  api: 'src/entry/api.js',
};

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, asserted on field by field
export type Cfn = any;

export interface Packaged {
  stage: Stage;
  dir: string;
  seconds: number;
  template: Cfn;
  state: Cfn;
  zips: Record<FunctionName, { bytes: number; entries: ZipEntry[] }>;
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`sls ${args.slice(1).join(' ')} exited ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

async function packageStage(workDir: string, stage: Stage): Promise<Packaged> {
  const serviceDir = join(workDir, `${stage}-service`);
  await mkdir(serviceDir);
  for (const name of SERVICE_FILES) await cp(join(ROOT, name), join(serviceDir, name), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(serviceDir, 'node_modules'), 'dir');
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && name !== 'SIGNING_SECRET') env[name] = value;
  }
  Object.assign(env, {
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    AWS_ACCESS_KEY_ID: 'AKIDOFFLINEPACKAGE',
    AWS_SECRET_ACCESS_KEY: 'offline-package-no-aws-call',
    ...(stage === 'prod' ? { SIGNING_SECRET: PROD_SIGNING_SECRET } : {}),
  });
  const dir = join(workDir, stage);
  const started = performance.now();
  const sls = join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');
  await run([sls, 'package', '--stage', stage, '--package', dir], serviceDir, env);
  const seconds = (performance.now() - started) / 1000;
  const zips = {} as Packaged['zips'];
  for (const name of FUNCTIONS) {
    const zip = await readFile(join(dir, `${name}.zip`));
    zips[name] = { bytes: (await stat(join(dir, `${name}.zip`))).size, entries: readZip(zip) };
  }
  return {
    stage,
    dir,
    seconds,
    template: JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')),
    state: JSON.parse(await readFile(join(dir, 'serverless-state.json'), 'utf8')),
    zips,
  };
}

let workDir: string | undefined;
let packaging: Promise<Record<Stage, Packaged>> | undefined;

/** The work directory of this run's packaging (removed when the process exits). */
export function deployWorkDir(): string {
  if (!workDir) throw new Error('packagedStages() has not run');
  return workDir;
}

/**
 * Both stages packaged once per process. Callers give their `before` hook a
 * timeout of ~300 s: cold, both stages take ~10-20 s together; a cold npm
 * cache adds the sharp download.
 */
export function packagedStages(): Promise<Record<Stage, Packaged>> {
  packaging ??= (async () => {
    workDir = await mkdtemp(join(tmpdir(), 'edge-resizer-package-'));
    const dir = workDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const results = await Promise.all(STAGES.map((stage) => packageStage(dir, stage)));
    const byStage = {} as Record<Stage, Packaged>;
    for (const result of results) byStage[result.stage] = result;
    return byStage;
  })();
  return packaging;
}

const unpacked = new Map<string, Promise<string>>();

/** The zip of one function of one stage, unpacked once per process; its directory. */
export function unpackedFunction(stage: Stage, name: FunctionName): Promise<string> {
  const id = `${stage}/${name}`;
  let dir = unpacked.get(id);
  if (!dir) {
    dir = (async () => {
      const packaged = (await packagedStages())[stage];
      const target = join(deployWorkDir(), 'unpacked', stage, name);
      await unpack(packaged.zips[name].entries, target);
      return target;
    })();
    unpacked.set(id, dir);
  }
  return dir;
}

/** The text of one file of a zip. */
export function bundle(entries: ZipEntry[], path: string): string {
  const entry = entries.find((e) => e.name === path);
  if (!entry)
    throw new Error(
      `Expected ${path} in the zip, found ${entries
        .map((e) => e.name)
        .slice(0, 5)
        .join(', ')}…`,
    );
  return entry.read().toString('utf8');
}
