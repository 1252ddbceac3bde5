/**
 * Holds a viewer-function bundle to what CloudFront Functions' runtime 2.0
 * documents (the lists in `runtime-2.ts`), two ways, so neither Node's
 * richer V8 nor a passing test hides a call the edge does not have:
 *   - `checkRuntime2Code` parses the bundle (acorn) and refuses syntax the
 *     page does not list, globals it does not list, and method calls no listed
 *     object has (`Object.hasOwn`, `[].at`);
 *   - `createRuntime2Context` is a VM context holding only the listed
 *     globals, each with only its listed members, for the local CDN to run
 *     the bundle in.
 */

import { createContext, runInContext } from 'node:vm';
import { parse } from 'acorn';
import {
  RUNTIME_2_GLOBAL_FUNCTIONS,
  RUNTIME_2_HANDED_METHODS,
  RUNTIME_2_MODULES,
  RUNTIME_2_OBJECTS,
  RUNTIME_2_REFUSED_SYNTAX,
  RUNTIME_2_REGEXP_FLAGS,
} from './runtime-2.js';

// biome-ignore lint/suspicious/noExplicitAny: acorn's ESTree nodes, walked generically
type Node = any;

const GLOBAL_NAMES = new Set([...Object.keys(RUNTIME_2_OBJECTS), ...RUNTIME_2_GLOBAL_FUNCTIONS]);
/** Method names some listed object, module or handed object has: what a call on a value of unknown type may name. */
const KNOWN_METHODS = new Set([
  ...Object.values(RUNTIME_2_OBJECTS).flatMap((surface) => surface.prototype ?? []),
  ...Object.values(RUNTIME_2_MODULES).flat(),
  ...RUNTIME_2_HANDED_METHODS,
]);
/** Own properties every function has, which the statics lists leave implicit. */
const FUNCTION_OWN = ['length', 'name', 'prototype'];

const checked = new Map<string, string[]>();

/** What in `code` runtime 2.0 would not run, one line each; empty when nothing. */
export function checkRuntime2Code(code: string): string[] {
  const cached = checked.get(code);
  if (cached) return cached;
  const problems: string[] = [];
  let ast: Node;
  try {
    ast = parse(code, { ecmaVersion: 'latest', sourceType: 'module' });
  } catch (error) {
    return [`does not parse: ${(error as Error).message}`];
  }
  const declared = new Set<string>();
  const ownMethods = new Set<string>();
  const references: Node[] = [];
  const calls: Node[] = [];
  const members: Node[] = [];

  const refuse = (node: Node, what: string) => problems.push(`${what} (at offset ${node.start})`);
  const declare = (pattern: Node) => {
    if (pattern?.type === 'Identifier') declared.add(pattern.name);
    else if (pattern?.type === 'RestElement') declare(pattern.argument);
  };

  const visit = (node: Node, parent: Node, depth: number): void => {
    if (!node || typeof node.type !== 'string') return;
    const refused = RUNTIME_2_REFUSED_SYNTAX[node.type];
    if (refused) refuse(node, `not in runtime 2.0: ${refused}`);
    switch (node.type) {
      case 'VariableDeclarator':
        declare(node.id);
        break;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (node.id) declare(node.id);
        for (const param of node.params) declare(param);
        if (node.generator) refuse(node, 'generators are not in runtime 2.0');
        // "async arguments and closures are not supported": only a top-level async function.
        if (node.async && !(node.type === 'FunctionDeclaration' && depth === 1))
          refuse(node, 'an async closure is not in runtime 2.0');
        break;
      case 'CatchClause':
        if (!node.param) refuse(node, 'a catch without a binding is not in runtime 2.0');
        else declare(node.param);
        break;
      case 'ImportDeclaration':
        if (!(node.source.value in RUNTIME_2_MODULES))
          refuse(node, `module ${node.source.value} is not in runtime 2.0`);
        for (const specifier of node.specifiers) declare(specifier.local);
        break;
      case 'LogicalExpression':
        if (node.operator === '??') refuse(node, '?? is not in runtime 2.0');
        break;
      case 'AssignmentExpression':
        if (['??=', '||=', '&&='].includes(node.operator)) refuse(node, `${node.operator} is not in runtime 2.0`);
        if (node.left.type === 'MemberExpression' && !node.left.computed && isFunction(node.right))
          ownMethods.add(node.left.property.name);
        break;
      case 'Property':
        if (node.computed || node.shorthand || node.method)
          refuse(node, 'computed, shorthand and method properties are not in runtime 2.0');
        if (!node.computed && isFunction(node.value)) ownMethods.add(propertyName(node.key));
        break;
      case 'Literal':
        if (node.regex && [...node.regex.flags].some((flag: string) => !RUNTIME_2_REGEXP_FLAGS.includes(flag)))
          refuse(node, `regular-expression flags ${node.regex.flags} are not in runtime 2.0`);
        if (node.bigint !== undefined) refuse(node, 'BigInt is not in runtime 2.0');
        break;
      case 'Identifier':
        if (isReference(node, parent)) references.push(node);
        break;
      case 'CallExpression':
      case 'NewExpression':
        calls.push(node);
        break;
      case 'MemberExpression':
        members.push(node);
        break;
    }
    for (const key of Object.keys(node)) {
      if (key === 'type' || key === 'start' || key === 'end') continue;
      const child = node[key];
      if (Array.isArray(child)) for (const item of child) visit(item, node, depth + 1);
      else if (child && typeof child === 'object') visit(child, node, depth + 1);
    }
  };
  visit(ast, undefined, 0);

  const isGlobal = (node: Node) => node?.type === 'Identifier' && !declared.has(node.name);
  for (const node of references) {
    if (declared.has(node.name) || GLOBAL_NAMES.has(node.name)) continue;
    if (node.name === 'require') continue;
    refuse(node, `the global ${node.name} is not in runtime 2.0`);
  }
  for (const node of calls) {
    const callee = node.callee;
    // "Restrictions on CloudFront Functions": no `eval`, no `Function` constructor (with or without `new`).
    if (isGlobal(callee) && callee.name === 'Function') refuse(node, 'the Function constructor is not in runtime 2.0');
    if (isGlobal(callee) && callee.name === 'require') {
      const name = node.arguments[0]?.value;
      if (!(name in RUNTIME_2_MODULES)) refuse(node, `require of ${String(name)} is not in runtime 2.0`);
    }
  }
  for (const node of members) {
    const name = memberName(node);
    if (name === undefined) continue;
    // `Object.keys`, `Math.floor`: a listed object's statics.
    if (isGlobal(node.object) && node.object.name in RUNTIME_2_OBJECTS) {
      const surface = RUNTIME_2_OBJECTS[node.object.name] as (typeof RUNTIME_2_OBJECTS)[string];
      if (!surface.statics.includes(name) && !FUNCTION_OWN.includes(name))
        refuse(node, `${node.object.name}.${name} is not in runtime 2.0`);
      continue;
    }
    // `Object.prototype.hasOwnProperty`: a listed object's prototype.
    const owner = node.object;
    if (
      owner.type === 'MemberExpression' &&
      memberName(owner) === 'prototype' &&
      isGlobal(owner.object) &&
      owner.object.name in RUNTIME_2_OBJECTS
    ) {
      const surface = RUNTIME_2_OBJECTS[owner.object.name] as (typeof RUNTIME_2_OBJECTS)[string];
      if (!(surface.prototype ?? []).includes(name))
        refuse(node, `${owner.object.name}.prototype.${name} is not in runtime 2.0`);
    }
  }
  // `x.at(-1)`: a call on a value whose type is unknown must name a method some listed object has.
  for (const node of calls) {
    const callee = node.callee;
    if (node.type !== 'CallExpression' || callee.type !== 'MemberExpression') continue;
    const name = memberName(callee);
    if (name === undefined) continue;
    if (isGlobal(callee.object) && callee.object.name in RUNTIME_2_OBJECTS) continue;
    if (!KNOWN_METHODS.has(name) && !ownMethods.has(name))
      refuse(callee, `.${name}() is a method of no object in runtime 2.0`);
  }
  checked.set(code, problems);
  return problems;
}

/** Throws, naming every problem, when `code` is not runtime-2.0 code. */
export function assertRuntime2Code(code: string, what = 'the viewer-request function'): void {
  const problems = checkRuntime2Code(code);
  if (problems.length > 0)
    throw new Error(`${what} uses what CloudFront Functions runtime 2.0 does not have:\n  ${problems.join('\n  ')}`);
}

/**
 * A fresh VM context whose global object holds only runtime 2.0's listed
 * globals, each built-in pruned to its listed members (along its prototype
 * chain, so `Uint8Array`'s inherited methods too), plus `extra`. Accessors
 * (`RegExp.prototype.flags`…) and symbol-keyed members stay: V8's own
 * `split` and `replace` read them, and no listed code names them.
 */
export function createRuntime2Context(extra: Record<string, unknown> = {}): object {
  const context = createContext();
  const global = runInContext('globalThis', context) as Record<string, unknown>;
  const objectPrototype = runInContext('Object.prototype', context) as object;
  const functionPrototype = runInContext('Function.prototype', context) as object;
  const pruned = new Set<object>();
  for (const name of Object.getOwnPropertyNames(global)) {
    if (GLOBAL_NAMES.has(name) || deleteOwn(global, name)) continue;
    // V8 installs some globals non-configurable (`gc` under --expose-gc, which a test may set at run
    // time): such a name cannot go, but its value can.
    if (Object.getOwnPropertyDescriptor(global, name)?.writable === true) global[name] = undefined;
  }
  for (const [name, surface] of Object.entries(RUNTIME_2_OBJECTS)) {
    const builtin = global[name] as Record<string, unknown> | undefined;
    if (!builtin) continue;
    const statics = new Set([...surface.statics, ...FUNCTION_OWN]);
    // Up the constructor chain (`Uint8Array` → `%TypedArray%`), never into `Function.prototype` or `Object.prototype`.
    for (
      let owner: object | null = builtin;
      owner && owner !== functionPrototype && owner !== objectPrototype;
      owner = Object.getPrototypeOf(owner)
    )
      if (prune(owner, statics)) pruned.add(owner);
    // RegExp.prototype stays whole: any change to it sends every regular expression down V8's slow
    // path, and the one member it has beyond the list, Annex B's `compile`, the static check refuses.
    if (!surface.prototype || name === 'RegExp') continue;
    const methods = new Set(surface.prototype);
    for (
      let owner: object | null = builtin.prototype as object;
      owner && (owner !== objectPrototype || name === 'Object');
      owner = owner === objectPrototype ? null : Object.getPrototypeOf(owner)
    )
      if (prune(owner, methods)) pruned.add(owner);
  }
  Object.assign(global, extra);
  // Deleting members leaves an object in V8's slow dictionary mode; used as a prototype it becomes fast again.
  const fasten = runInContext('(function (o) { function F() {} F.prototype = o; new F(); return o; })', context) as (
    owner: object,
  ) => object;
  for (const owner of pruned) fasten(owner);
  return context;
}

/** Deletes `owner`'s string-keyed data members not in `keep` (accessors and symbols stay); answers whether any went. */
function prune(owner: object, keep: Set<string>): boolean {
  let deleted = false;
  for (const name of Object.getOwnPropertyNames(owner)) {
    if (keep.has(name)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(owner, name);
    if (descriptor && 'value' in descriptor) deleted = deleteOwn(owner, name) || deleted;
  }
  return deleted;
}

function deleteOwn(owner: object, name: string): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(owner, name);
  return descriptor?.configurable === true && Reflect.deleteProperty(owner, name);
}

/** `a.b` and `a['b']` name `b`; `a[i]` names nothing known. */
function memberName(node: Node): string | undefined {
  if (!node.computed) return node.property.name;
  return node.property.type === 'Literal' && typeof node.property.value === 'string' ? node.property.value : undefined;
}

function isFunction(node: Node): boolean {
  return node?.type === 'FunctionExpression' || node?.type === 'ArrowFunctionExpression';
}

function propertyName(key: Node): string {
  return key.type === 'Identifier' ? key.name : String(key.value);
}

/** An identifier that reads a binding (not a property name, a label or a declaration). */
function isReference(node: Node, parent: Node): boolean {
  if (!parent) return true;
  switch (parent.type) {
    case 'MemberExpression':
      return parent.object === node || parent.computed;
    case 'Property':
      return parent.value === node || (parent.computed && parent.key === node);
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
      return false;
    case 'VariableDeclarator':
      return parent.init === node;
    case 'FunctionDeclaration':
    case 'FunctionExpression':
    case 'ArrowFunctionExpression':
      return parent.body === node;
    case 'CatchClause':
      return parent.param !== node;
    case 'ImportDefaultSpecifier':
    case 'ImportSpecifier':
    case 'ImportNamespaceSpecifier':
      return false;
    default:
      return true;
  }
}
