import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

const root = dirname(fileURLToPath(import.meta.url));

const alias = {
  '@contract': resolve(root, 'src/preload/contract.ts'),
  '@main': resolve(root, 'src/main'),
  '@engine': resolve(root, 'src/main/engine'),
  '@renderer': resolve(root, 'src/renderer/src'),
};

export default defineConfig({
  main: {
    resolve: { alias },
    build: {
      // Native and ESM-only packages stay in node_modules and are loaded at run time.
      externalizeDeps: true,
      rollupOptions: {
        input: {
          // Electron composition root.
          index: resolve(root, 'src/main/index.ts'),
          // Web-host composition root: plain Node, no Electron.
          web: resolve(root, 'src/main/web.ts'),
          // The engine process (utilityProcess in Electron, child_process.fork elsewhere).
          engine: resolve(root, 'src/main/engine/process/engineProcess.ts'),
          // The `sumi` command line.
          cli: resolve(root, 'src/main/cli.ts'),
        },
      },
    },
  },
  preload: {
    resolve: { alias },
    build: {
      // A sandboxed preload cannot require node_modules: bundle everything into one CommonJS file.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(root, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src/renderer'),
    resolve: { alias },
    plugins: [react()],
    build: {
      rollupOptions: { input: { index: resolve(root, 'src/renderer/index.html') } },
    },
  },
});
