/**
 * The one typed configuration of edge-resizer. Defaults live here as named
 * constants with the reason they have that value. The edge bundle receives its
 * per-stage values at build time (Lambda@Edge has no environment variables, see
 * `src/wiring/baked-config.ts`); only the local server and the CLI read the
 * environment and flags, and they do it in `src/local/` and `src/cli/`.
 */

import type { Gravity } from './param-rules.js';

/** Largest width or height we render (a larger one is a 400). 4096 covers a 4K screen at dpr 1 and 2K at dpr 2. */
export const DEFAULT_MAX_DIMENSION = 4096;
/** Largest original accepted (413 above it): bounds S3 egress and Lambda memory per request. */
export const DEFAULT_MAX_ORIGINAL_BYTES = 50 * 1024 * 1024;
/** Largest decoded original (413 above it): 100 MP of RGBA is 400 MB, about what a 1536 MB Lambda can hold safely. */
export const DEFAULT_MAX_INPUT_PIXELS = 100_000_000;
/**
 * Lambda@Edge caps a generated response (body after base64 plus headers) at
 * "1 MB" ("Quotas on Lambda@Edge"), without saying 10⁶ or 2²⁰ bytes: 10⁶, the
 * smaller, so nothing the local CDN accepts is refused deployed.
 */
export const LAMBDA_GENERATED_RESPONSE_LIMIT_BYTES = 1_000_000;
/**
 * Room the origin-response trigger keeps for the headers it must carry over
 * from the origin's answer unchanged (`Transfer-Encoding`, `Via`: read-only).
 */
export const ORIGIN_HEADERS_ALLOWANCE_BYTES = 2048;
/** The largest response a miss generates itself (body after base64 plus its headers); larger is stored and redirected. */
export const GENERATED_RESPONSE_LIMIT_BYTES = LAMBDA_GENERATED_RESPONSE_LIMIT_BYTES - ORIGIN_HEADERS_ALLOWANCE_BYTES;
/** CloudFront gives an origin-response trigger 30 s; we answer `busy` well before it gives its own 502/504. */
export const DEFAULT_TRANSFORM_TIMEOUT_MS = 20_000;
/** Above this many output pixels `format=auto` does not pick AVIF: bounds the encode to ~0.6 s (1.8 s on a slow Lambda) and ~460 MB; measured in `AVIF_POLICY` (encoder-policy.ts). */
export const DEFAULT_AVIF_MAX_OUTPUT_PIXELS = 2560 * 1600;

/** The `gravity` names; the list lives with the other parameter rules. */
export type GravityName = Gravity;
/** `open`: presets and free parameters; `only`: a URL may carry `preset` (and `format`, `dpr`) but nothing else. */
export type PresetPolicy = 'open' | 'only';

export type FitMode = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
export type WidthPolicy = 'reject' | 'snap';

/** Where the 256-bit master key that wraps every data key comes from. */
export type MasterKeySource =
  /** A file holding the key as 64 hex chars or 32 raw bytes (local server, tests). */
  | { type: 'file'; path: string }
  /** An SSM SecureString parameter holding the key as 64 hex chars; read once per container. */
  | { type: 'ssm'; parameterName: string; region: string }
  /** The key itself, hex (tests, benchmarks). */
  | { type: 'inline'; keyHex: string };

export interface LimitsConfig {
  /** @default 4096 */
  maxDimension: number;
  /** @default 50 MiB */
  maxOriginalBytes: number;
  /** @default 100 MP */
  maxInputPixels: number;
  /** Time budget for fetch + decrypt + transform before answering 503 `busy`. @default 20000 */
  transformTimeoutMs: number;
}

export interface SigningConfig {
  /** HMAC secret; signing is off when absent. */
  secret?: string;
}

export interface EdgeResizerConfig {
  /** Stage name: `local`, `dev`, `prod`. Used in names and logs. @default 'local' */
  stage: string;
  /** Region of the buckets, table and key parameter. Lambda@Edge deploys from us-east-1. @default 'us-east-1' */
  region: string;
  /** Bucket of encrypted originals. @default 'edge-resizer-originals' */
  originalsBucket: string;
  /** Bucket of derivatives, the CloudFront S3 origin. @default 'edge-resizer-derivatives' */
  derivativesBucket: string;
  /** Private bucket of staged multipart uploads, emptied within a day. @default 'edge-resizer-staging' */
  stagingBucket: string;
  /** DynamoDB metadata table. @default 'edge-resizer-images' */
  metadataTable: string;
  masterKey: MasterKeySource;
  limits: LimitsConfig;
  /** @default 80 */
  defaultQuality: number;
  /** @default 'cover' */
  defaultFit: FitMode;
  /** Optional width allow-list; empty means any width. @default [] */
  allowedWidths: number[];
  /** What to do with a width outside `allowedWidths`. @default 'reject' */
  widthPolicy: WidthPolicy;
  signing: SigningConfig;
  /** Where a crop keeps the image when the URL names no gravity. @default 'focal' */
  defaultGravity: GravityName;
  /** Named parameter sets: name → query string of image parameters. @default {} */
  presets: Record<string, string>;
  /** @default 'open' */
  presetPolicy: PresetPolicy;
  /** Under `presetPolicy: only`, the preset a URL without `preset` is answered with; null: such a URL is a 400. @default null */
  defaultPreset: string | null;
  /** `format=auto` answers AVIF to an `Accept` with `image/avif`. @default true */
  autoAvif: boolean;
  /** Output pixels above which `format=auto` falls back from AVIF to WebP/JPEG, so an AVIF miss fits the budget. */
  avifMaxOutputPixels: number;
  /** S3/DynamoDB call timeout and attempts (with backoff and jitter). */
  storage: { timeoutMs: number; maxAttempts: number };
}

/**
 * What `GET /api/settings` answers: the stage settings a client needs to build
 * image URLs (the playground's preset picker, its expected sizes).
 */
export interface StageSettings {
  presets: Record<string, string>;
  presetPolicy: PresetPolicy;
  defaultGravity: GravityName;
  autoAvif: boolean;
  maxDimension: number;
  defaultQuality: number;
}

/** A partial config as baked at build time or assembled from flags; nested objects may be partial too. */
export type EdgeResizerConfigInput = Partial<Omit<EdgeResizerConfig, 'limits' | 'signing' | 'storage'>> & {
  limits?: Partial<LimitsConfig>;
  signing?: Partial<SigningConfig>;
  storage?: Partial<EdgeResizerConfig['storage']>;
};

export const DEFAULT_CONFIG: EdgeResizerConfig = {
  stage: 'local',
  region: 'us-east-1',
  originalsBucket: 'edge-resizer-originals',
  derivativesBucket: 'edge-resizer-derivatives',
  stagingBucket: 'edge-resizer-staging',
  metadataTable: 'edge-resizer-images',
  masterKey: { type: 'file', path: '.data/master.key' },
  limits: {
    maxDimension: DEFAULT_MAX_DIMENSION,
    maxOriginalBytes: DEFAULT_MAX_ORIGINAL_BYTES,
    maxInputPixels: DEFAULT_MAX_INPUT_PIXELS,
    transformTimeoutMs: DEFAULT_TRANSFORM_TIMEOUT_MS,
  },
  defaultQuality: 80,
  defaultFit: 'cover',
  allowedWidths: [],
  widthPolicy: 'reject',
  signing: {},
  defaultGravity: 'focal',
  presets: {},
  presetPolicy: 'open',
  defaultPreset: null,
  autoAvif: true,
  avifMaxOutputPixels: DEFAULT_AVIF_MAX_OUTPUT_PIXELS,
  // Lambda@Edge origin-response has 30 s in all: three attempts of at most 5 s each leave room to transform.
  storage: { timeoutMs: 5_000, maxAttempts: 3 },
};

/** Fills every missing field with its default. */
export function createConfig(input: EdgeResizerConfigInput = {}): EdgeResizerConfig {
  return {
    ...DEFAULT_CONFIG,
    ...input,
    limits: { ...DEFAULT_CONFIG.limits, ...input.limits },
    signing: { ...DEFAULT_CONFIG.signing, ...input.signing },
    storage: { ...DEFAULT_CONFIG.storage, ...input.storage },
    presets: { ...DEFAULT_CONFIG.presets, ...input.presets },
    allowedWidths: [...(input.allowedWidths ?? DEFAULT_CONFIG.allowedWidths)].sort((a, b) => a - b),
  };
}
