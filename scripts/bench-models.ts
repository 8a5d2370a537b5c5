/**
 * Model-library benchmark: hash throughput of our streaming sha256 (`sha256File`) against the
 * system's `sha256sum` on the same temp file, measured in the same run, as `ratio` (ours MB/s over
 * sha256sum's; 1.0 means as fast). Rounds alternate the two so neither gets a warmer page cache;
 * the file is written first, so both usually read from the page cache. Prints one JSON object.
 *
 * Then, as `lora`: merging a LoRA (rank `--lora-rank`, every attention projection) into the SD 1.5-size
 * fixture UNet (fp16, external weights, built on first use as `bench:engine` builds it, ~1.7 GB): merge and
 * session-open times for each route patched weights take to ORT, and what switching only the UNet weight
 * or only the text-encoder weight costs the engine (only the changed part is rebuilt).
 *
 *   npm run bench:models [-- --size-mb 512] [-- --rounds 3] [-- --skip-lora] [-- --lora-rank 32]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HASH_CHUNK_BYTES, sha256File } from '../src/main/services/models/hashing';
import { benchLoraMerge } from './bench-lora';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '512' },
    rounds: { type: 'string', default: '3' },
    'skip-lora': { type: 'boolean', default: false },
    'lora-rank': { type: 'string', default: '32' },
  },
});
const sizeMb = Number(values['size-mb']);
const rounds = Number(values.rounds);
if (!(sizeMb > 0) || !(rounds > 0)) throw new Error('--size-mb and --rounds must be positive numbers');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Writes `sizeMb` MiB of incompressible bytes (a 16 MiB random block, each copy with a distinct prefix). */
function writeTempFile(path: string): void {
  const block = randomBytes(16 * 1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    let left = sizeMb * 1024 * 1024;
    for (let i = 0; left > 0; i++) {
      block.writeUInt32LE(i, 0);
      const n = Math.min(left, block.length);
      writeSync(fd, block, 0, n);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

function sha256sum(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sha256sum', [path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out.split(' ')[0] ?? '') : reject(new Error(`sha256sum exited ${code}`)),
    );
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sumi-bench-models-'));
  const path = join(dir, 'blob.bin');
  try {
    writeTempFile(path);
    const oursMs: number[] = [];
    const theirsMs: number[] = [];
    // One untimed pass each to settle the page cache.
    const reference = await sha256sum(path);
    if ((await sha256File(path)) !== reference) throw new Error('sha256File disagrees with sha256sum');
    for (let r = 0; r < rounds; r++) {
      const ours = await timed(() => sha256File(path));
      const theirs = await timed(() => sha256sum(path));
      if (ours.value !== reference || theirs.value !== reference) throw new Error('hashes disagree between rounds');
      oursMs.push(ours.ms);
      theirsMs.push(theirs.ms);
    }
    rmSync(path, { force: true });
    const lora = values['skip-lora'] ? undefined : await benchLoraMerge({ rank: Number(values['lora-rank']) });
    const mb = sizeMb * 1.048576; // MiB written, reported in MB (10^6 bytes)
    const oursMBps = mb / (median(oursMs) / 1000);
    const theirsMBps = mb / (median(theirsMs) / 1000);
    console.log(
      JSON.stringify(
        {
          benchmark: 'models.hash',
          fileMB: Number(mb.toFixed(1)),
          chunkMiB: HASH_CHUNK_BYTES / (1024 * 1024),
          rounds,
          ours: { medianMs: Math.round(median(oursMs)), MBps: Math.round(oursMBps), runsMs: oursMs.map(Math.round) },
          sha256sum: {
            medianMs: Math.round(median(theirsMs)),
            MBps: Math.round(theirsMBps),
            runsMs: theirsMs.map(Math.round),
          },
          ratio: Number((oursMBps / theirsMBps).toFixed(3)),
          sha256: reference,
          node: process.version,
          cpu: cpus()[0]?.model ?? 'unknown',
          cpus: cpus().length,
          ...(lora ? { lora } : {}),
        },
        null,
        2,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
