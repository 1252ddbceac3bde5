/**
 * What CloudFront Functions' JavaScript runtime 2.0 (`cloudfront-js-2.0`)
 * documents, as data: the global names, each built-in object's static and
 * prototype members, the modules, and the statement and expression kinds.
 * Read from the CloudFront Developer Guide pages "JavaScript runtime 2.0
 * features for CloudFront Functions", "Restrictions on CloudFront Functions"
 * and "Helper methods for key value stores". A name not here is treated as
 * absent, even where V8 (and so Node) has it: the local sandbox
 * (`runtime-check.ts`) deletes it, and the static check of a bundle refuses
 * it. Where the page is silent about a member, it is left out (the safe
 * reading: the local CDN must never run code CloudFront would not).
 *
 * Data only: no logic, no imports.
 */

/** ES 5.1 `Object` statics, and those the page lists from ES 6 and ES 8. */
const OBJECT_STATICS = [
  'create',
  'defineProperties',
  'defineProperty',
  'freeze',
  'getOwnPropertyDescriptor',
  'getOwnPropertyNames',
  'getPrototypeOf',
  'isExtensible',
  'isFrozen',
  'isSealed',
  'keys',
  'preventExtensions',
  'seal',
  // ES 6
  'assign',
  'is',
  'setPrototypeOf',
  // ES 8
  'entries',
  'values',
];

const OBJECT_PROTOTYPE = [
  'constructor',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
];

const STRING_STATICS = ['fromCharCode', 'fromCodePoint', 'raw'];
const STRING_PROTOTYPE = [
  'constructor',
  'charAt',
  'charCodeAt',
  'concat',
  'indexOf',
  'lastIndexOf',
  'localeCompare',
  'match',
  'replace',
  'search',
  'slice',
  'split',
  'substr',
  'substring',
  'toLocaleLowerCase',
  'toLocaleUpperCase',
  'toLowerCase',
  'toString',
  'toUpperCase',
  'trim',
  'valueOf',
  // ES 6
  'codePointAt',
  'endsWith',
  'includes',
  'repeat',
  'startsWith',
  // ES 8
  'padEnd',
  'padStart',
  // ES 9
  'trimEnd',
  'trimStart',
];

const NUMBER_STATICS = [
  'MAX_VALUE',
  'MIN_VALUE',
  'NaN',
  'NEGATIVE_INFINITY',
  'POSITIVE_INFINITY',
  // ES 6
  'EPSILON',
  'MAX_SAFE_INTEGER',
  'MIN_SAFE_INTEGER',
  'isFinite',
  'isInteger',
  'isNaN',
  'isSafeInteger',
  'parseFloat',
  'parseInt',
];
const NUMBER_PROTOTYPE = [
  'constructor',
  'toExponential',
  'toFixed',
  'toLocaleString',
  'toPrecision',
  'toString',
  'valueOf',
];

const BOOLEAN_PROTOTYPE = ['constructor', 'toString', 'valueOf'];

const MATH_STATICS = [
  'E',
  'LN10',
  'LN2',
  'LOG10E',
  'LOG2E',
  'PI',
  'SQRT1_2',
  'SQRT2',
  'abs',
  'acos',
  'asin',
  'atan',
  'atan2',
  'ceil',
  'cos',
  'exp',
  'floor',
  'log',
  'max',
  'min',
  'pow',
  'random',
  'round',
  'sin',
  'sqrt',
  'tan',
  // ES 6
  'acosh',
  'asinh',
  'atanh',
  'cbrt',
  'clz32',
  'cosh',
  'expm1',
  'fround',
  'hypot',
  'imul',
  'log10',
  'log1p',
  'log2',
  'sign',
  'sinh',
  'tanh',
  'trunc',
];

const DATE_STATICS = ['UTC', 'now', 'parse'];
const DATE_PROTOTYPE = [
  'constructor',
  'getDate',
  'getDay',
  'getFullYear',
  'getHours',
  'getMilliseconds',
  'getMinutes',
  'getMonth',
  'getSeconds',
  'getTime',
  'getTimezoneOffset',
  'getUTCDate',
  'getUTCDay',
  'getUTCFullYear',
  'getUTCHours',
  'getUTCMilliseconds',
  'getUTCMinutes',
  'getUTCMonth',
  'getUTCSeconds',
  'setDate',
  'setFullYear',
  'setHours',
  'setMilliseconds',
  'setMinutes',
  'setMonth',
  'setSeconds',
  'setTime',
  'setUTCDate',
  'setUTCFullYear',
  'setUTCHours',
  'setUTCMilliseconds',
  'setUTCMinutes',
  'setUTCMonth',
  'setUTCSeconds',
  'toDateString',
  'toISOString',
  'toJSON',
  'toLocaleDateString',
  'toLocaleString',
  'toLocaleTimeString',
  'toString',
  'toTimeString',
  'toUTCString',
  'valueOf',
];

const FUNCTION_PROTOTYPE = ['constructor', 'apply', 'bind', 'call', 'toString'];

const REGEXP_PROTOTYPE = ['constructor', 'exec', 'test', 'toString'];

const JSON_STATICS = ['parse', 'stringify'];

const ARRAY_STATICS = ['isArray', 'of'];
const ARRAY_PROTOTYPE = [
  'constructor',
  'concat',
  'every',
  'filter',
  'forEach',
  'indexOf',
  'join',
  'lastIndexOf',
  'map',
  'pop',
  'push',
  'reduce',
  'reduceRight',
  'reverse',
  'shift',
  'slice',
  'some',
  'sort',
  'splice',
  'toLocaleString',
  'toString',
  'unshift',
  // ES 6
  'copyWithin',
  'fill',
  'find',
  'findIndex',
  // ES 7
  'includes',
];

const TYPED_ARRAY_STATICS = ['BYTES_PER_ELEMENT', 'from', 'of'];
const TYPED_ARRAY_PROTOTYPE = [
  'constructor',
  'BYTES_PER_ELEMENT',
  'copyWithin',
  'every',
  'fill',
  'filter',
  'find',
  'findIndex',
  'forEach',
  'includes',
  'indexOf',
  'join',
  'lastIndexOf',
  'map',
  'reduce',
  'reduceRight',
  'reverse',
  'set',
  'slice',
  'some',
  'sort',
  'subarray',
  'toString',
];

const ARRAY_BUFFER_STATICS = ['isView'];
const ARRAY_BUFFER_PROTOTYPE = ['constructor', 'slice'];

const PROMISE_STATICS = ['all', 'allSettled', 'any', 'race', 'reject', 'resolve'];
const PROMISE_PROTOTYPE = ['constructor', 'catch', 'finally', 'then'];

const ERROR_PROTOTYPE = ['constructor', 'message', 'name', 'toString'];

export interface BuiltinSurface {
  /** Own properties of the object (a constructor's statics, or a namespace's members). */
  statics: readonly string[];
  /** Own properties of its `prototype`, for constructors. */
  prototype?: readonly string[];
}

/** The global objects runtime 2.0 lists, each with the members it lists. */
export const RUNTIME_2_OBJECTS: Readonly<Record<string, BuiltinSurface>> = {
  Object: { statics: OBJECT_STATICS, prototype: OBJECT_PROTOTYPE },
  String: { statics: STRING_STATICS, prototype: STRING_PROTOTYPE },
  Number: { statics: NUMBER_STATICS, prototype: NUMBER_PROTOTYPE },
  Boolean: { statics: [], prototype: BOOLEAN_PROTOTYPE },
  Math: { statics: MATH_STATICS },
  Date: { statics: DATE_STATICS, prototype: DATE_PROTOTYPE },
  Function: { statics: [], prototype: FUNCTION_PROTOTYPE },
  RegExp: { statics: [], prototype: REGEXP_PROTOTYPE },
  JSON: { statics: JSON_STATICS },
  Array: { statics: ARRAY_STATICS, prototype: ARRAY_PROTOTYPE },
  Int8Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Uint8Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Uint8ClampedArray: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Int16Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Uint16Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Int32Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Uint32Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Float32Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  Float64Array: { statics: TYPED_ARRAY_STATICS, prototype: TYPED_ARRAY_PROTOTYPE },
  ArrayBuffer: { statics: ARRAY_BUFFER_STATICS, prototype: ARRAY_BUFFER_PROTOTYPE },
  Promise: { statics: PROMISE_STATICS, prototype: PROMISE_PROTOTYPE },
  Error: { statics: [], prototype: ERROR_PROTOTYPE },
  EvalError: { statics: [], prototype: ERROR_PROTOTYPE },
  RangeError: { statics: [], prototype: ERROR_PROTOTYPE },
  ReferenceError: { statics: [], prototype: ERROR_PROTOTYPE },
  SyntaxError: { statics: [], prototype: ERROR_PROTOTYPE },
  TypeError: { statics: [], prototype: ERROR_PROTOTYPE },
  URIError: { statics: [], prototype: ERROR_PROTOTYPE },
};

/** The global functions and values runtime 2.0 lists (besides the objects above). */
export const RUNTIME_2_GLOBAL_FUNCTIONS: readonly string[] = [
  'decodeURI',
  'decodeURIComponent',
  'encodeURI',
  'encodeURIComponent',
  'isFinite',
  'isNaN',
  'parseFloat',
  'parseInt',
  'globalThis',
  'NaN',
  'Infinity',
  'undefined',
];

/** Modules a function may import (`import x from 'm'`), with the members we may call on them. */
export const RUNTIME_2_MODULES: Readonly<Record<string, readonly string[]>> = {
  crypto: ['createHash', 'createHmac'],
  cloudfront: ['kvs'],
  buffer: ['Buffer'],
};

/**
 * Methods of objects the runtime hands the function rather than globals:
 * hash and HMAC objects (`update`, `digest`), the KeyValueStore handle
 * ("Helper methods for key value stores": `get`, `exists`, `meta`) and the
 * event's `rawQueryString()`.
 */
export const RUNTIME_2_HANDED_METHODS: readonly string[] = [
  'update',
  'digest',
  'get',
  'exists',
  'meta',
  'rawQueryString',
];

/**
 * Syntax outside ES 5.1 that the page lists: `const`, `let`, `async`/`await`
 * (async only for top-level functions: "async arguments and closures are not
 * supported"), template literals, arrow functions, rest parameters and `**`.
 * What is not listed, the check refuses (by acorn's node types).
 */
export const RUNTIME_2_REFUSED_SYNTAX: Readonly<Record<string, string>> = {
  ClassDeclaration: 'classes',
  ClassExpression: 'classes',
  ForOfStatement: 'for…of',
  SpreadElement: 'spread',
  ObjectPattern: 'destructuring',
  ArrayPattern: 'destructuring',
  AssignmentPattern: 'default parameters',
  YieldExpression: 'generators',
  ChainExpression: 'optional chaining',
  TaggedTemplateExpression: 'tagged templates',
  ImportExpression: 'dynamic import',
  MetaProperty: 'new.target / import.meta',
  ExportNamedDeclaration: 'exports',
  ExportDefaultDeclaration: 'exports',
  ExportAllDeclaration: 'exports',
};

/** Regular-expression flags of ES 5.1 (`s`, `y`, `u`, `d`, `v` are not listed). */
export const RUNTIME_2_REGEXP_FLAGS = 'gim';
