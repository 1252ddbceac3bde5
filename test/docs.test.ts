/**
 * The docs hold together and the repository stands alone: every relative link
 * of README.md and docs/*.md reaches a file (and a `#anchor` a heading of it),
 * every page of docs/ is linked from somewhere, and no file refers to a
 * document outside the repository, to an issue tracker's numbers or to a
 * revision of a spec a reader cannot open. That the parameter table of
 * docs/url-api.md is the registry's is checked in test/core/param-registry.test.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect } from 'chai';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const DOCS = join(ROOT, 'docs');
const PAGES = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(DOCS, name)),
];

/** Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Targets of `[text](target)` and `![alt](target)`, without a title. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] ?? '');
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a page's headings give, repeats numbered as GitHub numbers them. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** `file:target` for every relative link of `page` that reaches no file or no heading. */
function brokenLinks(page: string): string[] {
  const markdown = readFileSync(page, 'utf8');
  const name = relative(ROOT, page);
  return linkTargets(markdown).flatMap((target) => {
    if (isExternal(target)) return [];
    const [pathPart = '', anchor] = target.split('#', 2);
    const file = pathPart === '' ? page : resolve(dirname(page), decodeURIComponent(pathPart));
    if (!file.startsWith(`${ROOT}/`) || !existsSync(file)) return [`${name}: ${target} (no such file)`];
    if (anchor === undefined || anchor === '') return [];
    if (!file.endsWith('.md')) return [`${name}: ${target} (an anchor into a file that is not markdown)`];
    return anchors(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor).toLowerCase())
      ? []
      : [`${name}: ${target} (no such heading)`];
  });
}

/** References a reader of the repository cannot follow. Spelled so this file does not match itself. */
const OUTSIDE_REFERENCES: readonly { what: string; pattern: RegExp }[] = [
  { what: 'an outside contract document', pattern: /CONTRACT\.md/ },
  { what: 'a sibling directory of the repository', pattern: /\.\.\/shared\b|\bshared\/research\// },
  { what: "a path of one machine's disk", pattern: /(?<![\w.])\/work\/(?:shared|wt|notes)\b/ },
  { what: 'an issue number', pattern: /\b[Ii]ssues? \d|\bdefects? \d/ },
  { what: 'a spec revision', pattern: /\b[Rr]evision[- ]\d/ },
  { what: "a spec's section sign", pattern: /§\s?\d/ },
];

/** The section sign is fine where it cites a public standard, e.g. "RFC 9110 §14". */
const PUBLIC_SECTION = /\b(?:RFC|ISO|ECMA-?)\s?[\d-]+\s?§\s?\d/g;

/**
 * Files whose comments still cite outside documents, being rewritten on the
 * branches that own their code; each leaves this list once rewritten.
 */
const NOT_YET_REWRITTEN = new Set<string>([]);

const SKIPPED_DIRS = new Set(['.git', 'node_modules', '.data', 'dist', '.serverless', '.profile', '.esbuild']);
const TEXT = /\.(?:ts|js|cjs|mjs|json|ya?ml|md|html|css|sh)$|^run$/;

function textFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : textFiles(path);
    if (!TEXT.test(entry.name) || statSync(path).size > 2_000_000) return [];
    return [path];
  });
}

describe('docs', () => {
  it('resolves every relative link of README.md and docs/*.md to a file, and every #anchor to a heading', () => {
    expect(PAGES.length).to.be.greaterThan(10);
    expect(PAGES.flatMap(brokenLinks)).to.deep.equal([]);
  });

  it('links every page of docs/ from the README or from another page', () => {
    const linked = new Set(
      PAGES.flatMap((page) =>
        linkTargets(readFileSync(page, 'utf8'))
          .filter((target) => !isExternal(target))
          .map((target) => resolve(dirname(page), target.split('#', 1)[0] || page)),
      ),
    );
    const orphans = PAGES.filter((page) => !page.endsWith('README.md') && !linked.has(page));
    expect(orphans.map((page) => relative(ROOT, page))).to.deep.equal([]);
  });

  it('refers to nothing outside the repository: no outside document, issue number or spec revision', () => {
    const files = textFiles(ROOT).filter((file) => !NOT_YET_REWRITTEN.has(relative(ROOT, file)));
    expect(files.length).to.be.greaterThan(200);
    const found = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, index) => {
          const text = line.replace(PUBLIC_SECTION, '');
          return OUTSIDE_REFERENCES.filter(({ pattern }) => pattern.test(text)).map(
            ({ what }) => `${relative(ROOT, file)}:${index + 1}: ${what}`,
          );
        }),
    );
    expect(found).to.deep.equal([]);
  });

  describe('the checks themselves', () => {
    it('slugs headings as GitHub does', () => {
      expect(slug('Checking a deployment: `edge-resizer smoke`')).to.equal('checking-a-deployment-edge-resizer-smoke');
      expect(slug('Lambda@Edge logs: `edge-resizer log-retention`')).to.equal(
        'lambdaedge-logs-edge-resizer-log-retention',
      );
      expect(slug('Never heavier than the JPEG: what decides, and on what evidence')).to.equal(
        'never-heavier-than-the-jpeg-what-decides-and-on-what-evidence',
      );
      expect([...anchors('# A\n## Notes\n```\n# not a heading\n```\n## Notes\n')]).to.deep.equal([
        'a',
        'notes',
        'notes-1',
      ]);
    });

    it('finds links in prose and not in code', () => {
      expect(linkTargets('[a](b.md#c) ![x](y.png) `[d](e.md)`\n```\n[f](g.md)\n```\n<http://h>')).to.deep.equal([
        'b.md#c',
        'y.png',
      ]);
    });

    it('catches each kind of outside reference, and lets a public standard cite its section', () => {
      const samples = [
        ['CONTRACT', `md ${'§'}3`].join('.'),
        ['..', 'shared', 'STYLE.md'].join('/'),
        `see ${['', 'work', 'shared', 'x'].join('/')}`,
        `(${'issue'} 12, ${'defect'} 3)`,
        `${'revision'}-3 parameters`,
        `(${'§'}6)`,
      ];
      for (const sample of samples) {
        expect(
          OUTSIDE_REFERENCES.some(({ pattern }) => pattern.test(sample.replace(PUBLIC_SECTION, ''))),
          sample,
        ).to.be.true;
      }
      const rfc = `after RFC 9110 ${'§'}14`;
      expect(OUTSIDE_REFERENCES.some(({ pattern }) => pattern.test(rfc.replace(PUBLIC_SECTION, '')))).to.be.false;
    });
  });
});
