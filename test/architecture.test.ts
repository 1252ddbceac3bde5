/**
 * The import graph: no cycle, the core free of AWS and of the
 * environment, dependencies pointing one way (the API never reaches into the
 * edge handlers), and no runtime code loading build scripts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import madge from 'madge';

const SRC = new URL('../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : /\.(ts|js|cjs|mjs)$/.test(entry.name)
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('architecture', () => {
  let graph: Record<string, string[]>;
  let circular: string[][];

  before(async function () {
    this.timeout(60_000);
    const result = await madge(SRC, {
      fileExtensions: ['ts', 'js'],
      tsConfig: new URL('../tsconfig.json', import.meta.url).pathname,
      // Type imports count too: `npx madge --circular --extensions ts --ts-config tsconfig.json src` must find no cycle.
    });
    graph = result.obj();
    circular = result.circular();
  });

  it('has no import cycle under src/', () => {
    expect(Object.keys(graph).length).to.be.greaterThan(40);
    expect(circular).to.deep.equal([]);
  });

  it('never imports src/edge from src/api', () => {
    const offending = Object.entries(graph).flatMap(([file, deps]) =>
      file.startsWith('api/') ? deps.filter((dep) => dep.startsWith('edge/')).map((dep) => `${file} -> ${dep}`) : [],
    );
    expect(offending).to.deep.equal([]);
  });

  it('never imports src/local from the deployed code: src/entry, src/edge, src/api, src/wiring (but local.ts)', () => {
    const deployed = (file: string) => /^(entry|edge|api|wiring)\//.test(file) && file !== 'wiring/local.ts';
    const offending = Object.entries(graph).flatMap(([file, deps]) =>
      deployed(file) ? deps.filter((dep) => dep.startsWith('local/')).map((dep) => `${file} -> ${dep}`) : [],
    );
    expect(Object.keys(graph).filter(deployed).length).to.be.greaterThan(20);
    expect(offending).to.deep.equal([]);
  });

  it('reaches no src/local module, directly or through others, from a deployed entry point', () => {
    const entries = Object.keys(graph).filter((file) => file.startsWith('entry/'));
    expect(entries).to.have.members(['entry/api.ts', 'entry/origin-request.ts', 'entry/origin-response.ts']);
    for (const entry of entries) {
      const reached = new Set<string>([entry]);
      const pending = [entry];
      for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
        for (const dep of graph[file] ?? []) {
          if (!reached.has(dep)) {
            reached.add(dep);
            pending.push(dep);
          }
        }
      }
      expect(reached.size, entry).to.be.greaterThan(3);
      expect(
        [...reached].filter((file) => file.startsWith('local/')),
        entry,
      ).to.deep.equal([]);
    }
  });

  it('wires the local CDN through the deployed compositions: src/local/server.ts builds no store or client itself', () => {
    const deps = graph['local/server.ts'] ?? [];
    expect(deps).to.include.members(['wiring/api.ts', 'wiring/edge.ts']);
    expect(deps.filter((dep) => dep.startsWith('storage/'))).to.deep.equal([]);
    expect(readFileSync(join(SRC, 'local/server.ts'), 'utf8')).not.to.match(/@aws-sdk\//);
  });

  it('loads nothing from scripts/ at run time, however it is required', () => {
    // madge does not see createRequire(...)('…'), so look at every import, require and import() by text.
    const loadsScripts = /(?:\bfrom\s*|\brequire\s*\(\s*|\bimport\s*\(\s*)['"`][^'"`]*\bscripts\//;
    const offending = sourceFiles(SRC).filter((file) => loadsScripts.test(readFileSync(file, 'utf8')));
    expect(offending.map((file) => relative(SRC, file))).to.deep.equal([]);
  });

  it('keeps the core free of AWS clients and the environment', () => {
    const offending = sourceFiles(join(SRC, 'core')).filter((file) => {
      const text = readFileSync(file, 'utf8');
      return /from ['"]@aws-sdk\//.test(text) || /\bprocess\.env\b/.test(text);
    });
    expect(offending.map((file) => relative(SRC, file))).to.deep.equal([]);
  });
});
