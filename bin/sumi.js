#!/usr/bin/env node
// The `sumi` command. Runs the built CLI (out/main/cli.js); on a fresh clone it builds it first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'out', 'main', 'cli.js');
if (!existsSync(cli) || !existsSync(join(root, 'out', 'main', 'engine.js'))) {
  process.stderr.write('sumi: first run, building the app (a few seconds)…\n');
  const vite = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  const built = spawnSync(process.execPath, [vite, 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) {
    process.stderr.write('sumi: the build failed; run `npm run build` to see why.\n');
    process.exit(1);
  }
}
await import(pathToFileURL(cli).href);
