// Minimal types for madge (the import-graph check in test/architecture.test.ts), which ships none.
declare module 'madge' {
  interface MadgeResult {
    obj(): Record<string, string[]>;
    circular(): string[][];
  }
  interface MadgeOptions {
    fileExtensions?: string[];
    tsConfig?: string;
    detectiveOptions?: Record<string, unknown>;
  }
  export default function madge(path: string, options?: MadgeOptions): Promise<MadgeResult>;
}
