/**
 * The playground's build. The local CDN (and the deployed one) serves
 * web/dist/index.html at `/` and everything else under `/_playground/`.
 *
 *   npm run build:web     # web/dist
 *   npm run dev:web       # Vite dev server with the API and images proxied to a
 *                         # local CDN (EDGE_RESIZER_URL, default http://127.0.0.1:3000)
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const target = process.env.EDGE_RESIZER_URL ?? 'http://127.0.0.1:3000';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export default defineConfig({
  root,
  base: '/_playground/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    assetsInlineLimit: 0,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: false,
    proxy: {
      // The proxy reaches the local CDN from loopback, so it would hand the token
      // to anyone who can reach this dev server (`--host`): only to loopback, then.
      '/_local/token': {
        target,
        bypass: (req) => (LOOPBACK.test(req.socket.remoteAddress ?? '') ? undefined : false),
      },
      // Everything but the dev server's own files: API and image URLs.
      '^/(?!_playground(/|$)).+': { target },
    },
  },
  logLevel: 'warn',
});
