/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Plain Vite + Svelte SPA. `npm run build` writes ../ui_dist/, which Flask serves.
// `npm run dev` proxies the APIs to a running `hearth serve` (HEARTH_URL, default :8080).
const target = process.env.HEARTH_URL ?? 'http://127.0.0.1:8080';

// KaTeX's CSS lists every font as woff2, woff and ttf; every browser we run in
// (Chromium, Qt WebEngine, WebKit) reads woff2, so keep only those in ui_dist/.
const katexWoff2Only: Plugin = {
  name: 'hearth-katex-woff2-only',
  enforce: 'pre',
  transform(code, id) {
    if (!/katex(\.min)?\.css/.test(id)) return null;
    return code.replace(/,\s*url\([^)]*\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, '');
  },
};

export default defineConfig({
  plugins: [katexWoff2Only, svelte()],
  base: '/',
  build: {
    outDir: '../ui_dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/ollama': { target, changeOrigin: false },
      '/api': { target, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
});
