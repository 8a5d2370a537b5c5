// Installs onnxruntime-node's CUDA 12 execution provider for Linux x64 NVIDIA users.
// `npm install` skips this on purpose (.npmrc: onnxruntime-node-install=skip) because it downloads
// several hundred MB from the internet. Needs: Linux x64, an NVIDIA driver, CUDA 12 and cuDNN 9.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `setup:cuda is for Linux x64 (this is ${process.platform}-${process.arch}). ` +
      'Windows uses DirectML and macOS uses Core ML, both already included.',
  );
  process.exit(1);
}
const require = createRequire(import.meta.url);
const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));
console.log('Downloading the CUDA 12 execution provider for onnxruntime-node (needs the internet)…');
const result = spawnSync(
  process.execPath,
  [join(ortDir, 'script', 'install.js'), '--onnxruntime-node-install=cuda12'],
  {
    stdio: 'inherit',
    cwd: ortDir,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
  },
);
if (result.status !== 0) {
  console.error('The CUDA provider could not be installed. Sumi Studio keeps working on the CPU provider.');
  process.exit(result.status ?? 1);
}
console.log('Done. Put "cuda" first in Settings › Hardware; the status bar shows the provider in use.');
