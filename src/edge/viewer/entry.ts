/**
 * The bundle's entry (see build.ts): the stage's config is substituted for
 * `__VIEWER_CONFIG__` at build time and `cfCrypto` is the runtime's `crypto`
 * module, required by the bundle's first line, which also declares
 * `__viewerHandler`; the bundle's last line defines the top-level `handler`
 * CloudFront Functions calls.
 */
import type { ViewerConfig } from './config.js';
import { createViewerHandler, type HmacModule } from './handler.js';

declare const __VIEWER_CONFIG__: ViewerConfig;
declare const cfCrypto: HmacModule;
// biome-ignore lint/style/useConst: declared by the bundle's first line, assigned here
declare let __viewerHandler: ReturnType<typeof createViewerHandler>;

__viewerHandler = createViewerHandler(__VIEWER_CONFIG__, cfCrypto);
