/**
 * The viewer function against what CloudFront Functions' runtime 2.0
 * documents (CloudFront Developer Guide, "JavaScript runtime 2.0 features for
 * CloudFront Functions" and "Restrictions on CloudFront Functions"): the
 * static check of a bundle and the sandbox the local CDN runs it in must both
 * refuse what the page does not list, however fine Node finds it.
 */
import { runInContext } from 'node:vm';
import { expect } from 'chai';
import { createConfig } from '../../src/core/config.js';
import { buildViewerFunction } from '../../src/edge/viewer/build.js';
import { viewerConfig } from '../../src/edge/viewer/config.js';
import { RUNTIME_2_GLOBAL_FUNCTIONS, RUNTIME_2_OBJECTS } from '../../src/edge/viewer/runtime-2.js';
import { checkRuntime2Code, createRuntime2Context } from '../../src/edge/viewer/runtime-check.js';
import {
  isViewerResponse,
  loadViewerFunction,
  runViewerCode,
  type ViewerEvent,
  viewerEvent,
} from '../../src/local/viewer-function.js';

const withPresets = viewerConfig(createConfig({ presets: { thumb: 'width=160&height=160&fit=cover' } }), 'secret');

/** A handler as a bundle would define it, around `body`. */
const bundleCalling = (body: string) => `function handler(event) {\n  ${body}\n  return event.request;\n}`;

const event = (query: string): ViewerEvent =>
  viewerEvent('GET', '/photos/a.jpg', query, { accept: 'image/webp', host: 'cdn.example.com' }, '203.0.113.7');

describe('edge/runtime-2 (the viewer function as CloudFront Functions runtime 2.0 runs it)', () => {
  it('passes the static check with the stage bundles, KeyValueStore or not', () => {
    for (const keyValueStore of [false, true]) {
      const code = buildViewerFunction({ ...withPresets, keyValueStore });
      expect(checkRuntime2Code(code), `keyValueStore: ${keyValueStore}`).to.deep.equal([]);
    }
  });

  it('expands preset= in the runtime-2.0 sandbox instead of throwing', () => {
    const run = loadViewerFunction({ ...withPresets, signingSecret: null });
    const result = run(event('preset=thumb'));
    if (isViewerResponse(result)) expect.fail(`answered ${result.statusCode}`);
    expect(result.querystring).to.deep.equal({ width: { value: '160' }, height: { value: '160' } });
  });

  for (const [name, call] of [
    ['Object.hasOwn', "if (Object.hasOwn(event.request.querystring, 'preset')) event.request.uri = '/p';"],
    ['Array.prototype.at', "event.request.uri = event.request.uri.split('/').at(-1);"],
  ] as const) {
    it(`refuses a bundle calling ${name}, statically and in the sandbox`, () => {
      const code = bundleCalling(call);
      const problems = checkRuntime2Code(code);
      expect(problems.join('\n')).to.match(name === 'Object.hasOwn' ? /Object\.hasOwn/ : /\.at\(\)/);
      expect(() => runViewerCode(code)).to.throw(/runtime 2\.0 does not have/);
      // Past the static check, the sandbox itself has no such method: the call throws as it would at the edge.
      const context = createRuntime2Context();
      const handler = runInContext(`${code}\nhandler`, context) as (event: ViewerEvent) => unknown;
      // (The sandbox's own TypeError, of another realm than the test's.)
      expect(() => handler(event('preset=thumb')))
        .to.throw()
        .with.property('name', 'TypeError');
    });
  }

  it('refuses syntax runtime 2.0 does not list', () => {
    const refused: Record<string, string> = {
      'for…of': 'for (const x of [1]) x;',
      classes: 'class A {}',
      spread: 'Math.max(...[1, 2]);',
      destructuring: 'var { uri } = event.request;',
      'optional chaining': 'event.request?.uri;',
      '??': "event.request.uri = event.request.uri ?? '/';",
      'async closure': 'var f = async () => 1;',
      'regular-expression flags': '/a/s.test(event.request.uri);',
      generators: 'function* g() { yield 1; }',
      'the global Map': 'new Map();',
      'require of fs': "require('fs');",
      'the Function constructor': "new Function('return 1');",
      eval: "eval('1');",
      'a computed Object.hasOwn': "Object['hasOwn']({}, 'a');",
      'a computed .at()': "[1]['at'](0);",
    };
    for (const [what, body] of Object.entries(refused)) {
      expect(checkRuntime2Code(bundleCalling(body)), what).to.not.deep.equal([]);
    }
    // What the page lists stays allowed: const/let, arrow functions, template literals, rest parameters, **.
    const listed = 'const a = (...xs) => xs.length ** 2; let b = `$' + '{a(1)}`; event.request.uri = b;';
    expect(checkRuntime2Code(bundleCalling(listed))).to.deep.equal([]);
  });

  it('holds exactly the documented globals, each with only its documented members', () => {
    const context = createRuntime2Context();
    // A name V8 will not let go (`gc` under --expose-gc) is left holding undefined.
    const globals = runInContext(
      'Object.getOwnPropertyNames(globalThis).filter(function (n) { return globalThis[n] !== undefined || n === "undefined"; })',
      context,
    ) as string[];
    expect([...globals].sort()).to.deep.equal(
      [...Object.keys(RUNTIME_2_OBJECTS), ...RUNTIME_2_GLOBAL_FUNCTIONS]
        .filter((name) => globals.includes(name))
        .sort(),
    );
    expect(globals).to.not.include.members(['Map', 'Set', 'Symbol', 'Proxy', 'Reflect', 'BigInt', 'eval', 'Intl']);
    const absent = runInContext(
      `[typeof Object.hasOwn, typeof [].at, typeof [].flatMap, typeof ''.replaceAll, typeof ''.at,
        typeof Array.from, typeof Object.fromEntries, typeof new Uint8Array(1).at, typeof Error.captureStackTrace]`,
      context,
    );
    expect(absent).to.deep.equal(Array(9).fill('undefined'));
    const present = runInContext(
      "[typeof Object.keys, typeof ''.padStart, typeof [].includes, typeof Math.trunc, 'a,b'.split(/,/).length]",
      context,
    );
    expect(present).to.deep.equal(['function', 'function', 'function', 'function', 2]);
  });
});
