/**
 * Hashing: our streaming sha256 against `sha256sum`, A1111's short hashes against the same rules
 * run in Python's hashlib, the folder hash against an independent Python computation of its
 * definition, and the cache's reuse and invalidation.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { AppError } from '../../../src/main/services/AppError';
import {
  HASH_CHUNK_BYTES,
  HashCache,
  a1111LoraHash,
  a1111ModelHash,
  addnetHashSafetensors,
  folderHash,
  legacyModelHash,
  sha256File,
  type HashProgress,
} from '../../../src/main/services/models/hashing';
import { type TensorSpec, writeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const { dir, cleanup } = makeTempDir('sumi-hashing-');
afterAll(cleanup);

function python(script: string, ...args: string[]): string {
  const run = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`);
  return run.stdout.trim();
}

/** A1111's `calculate_sha256`, `addnet_hash_safetensors` and legacy `model_hash`, as in modules/hashes.py and sd_models.py. */
const A1111_HASHES = `
import hashlib, sys, json
def calculate_sha256(filename):
    h = hashlib.sha256()
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            h.update(chunk)
    return h.hexdigest()
def addnet_hash_safetensors(b):
    h = hashlib.sha256()
    b.seek(0)
    n = int.from_bytes(b.read(8), "little")
    b.seek(n + 8)
    for chunk in iter(lambda: b.read(1024 * 1024), b""):
        h.update(chunk)
    return h.hexdigest()
def model_hash(filename):
    with open(filename, "rb") as f:
        m = hashlib.sha256()
        f.seek(0x100000)
        m.update(f.read(0x10000))
        return m.hexdigest()[0:8]
path = sys.argv[1]
sha = calculate_sha256(path)
with open(path, "rb") as f:
    addnet = addnet_hash_safetensors(f)
print(json.dumps({"shorthash": sha[0:10], "lora_shorthash": addnet[0:12], "sha256": sha, "addnet": addnet, "model_hash": model_hash(path)}))
`;

function loraTensors(seed: number): Record<string, TensorSpec> {
  const values = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(seed + i) * 0.1);
  return {
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': {
      dtype: 'F16',
      shape: [16, 768],
      data: values(16 * 768),
    },
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': {
      dtype: 'F16',
      shape: [320, 16],
      data: values(320 * 16),
    },
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha': {
      dtype: 'F32',
      shape: [],
      data: [8],
    },
    // Enough F32 bytes to make the file larger than 1 MiB + 64 KiB, so the legacy hash reads a full window.
    'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': {
      dtype: 'F32',
      shape: [400, 768],
      data: values(400 * 768),
    },
  };
}

describe('streaming sha256', () => {
  test('matches sha256sum on a file of several chunks, with progress up to the total', async () => {
    const path = join(dir, 'multi-chunk.bin');
    const size = 2 * HASH_CHUNK_BYTES + 12_345;
    writeFileSync(path, randomBytes(size));
    const progress: HashProgress[] = [];
    const ours = await sha256File(path, { onProgress: (p) => progress.push(p) });
    const theirs = spawnSync('sha256sum', [path], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(ours).toBe(theirs);
    expect(progress.length).toBe(3);
    expect(progress.map((p) => p.done)).toEqual([HASH_CHUNK_BYTES, 2 * HASH_CHUNK_BYTES, size]);
    expect(progress.every((p) => p.total === size)).toBe(true);
  });

  test('an empty file has the empty sha256', async () => {
    const path = join(dir, 'empty.bin');
    writeFileSync(path, '');
    expect(await sha256File(path)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  test('an aborted signal cancels, and a missing file is NOT_FOUND', async () => {
    const path = join(dir, 'abort.bin');
    writeFileSync(path, randomBytes(2 * HASH_CHUNK_BYTES));
    const controller = new AbortController();
    controller.abort();
    await expect(sha256File(path, { signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(sha256File(join(dir, 'nope.bin'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('A1111 hashes', () => {
  test('Model hash, Lora hashes and the legacy hash match A1111 rules run in Python hashlib', async () => {
    const path = join(dir, 'my_lora.safetensors');
    writeSafetensors(path, loraTensors(1), { ss_output_name: 'my_lora', ss_network_dim: '16' });
    const expected = JSON.parse(python(A1111_HASHES, path)) as Record<string, string>;
    const sha = await sha256File(path);
    const addnet = await addnetHashSafetensors(path);
    expect(sha).toBe(expected.sha256);
    expect(addnet).toBe(expected.addnet);
    expect(a1111ModelHash(sha)).toBe(expected.shorthash);
    expect(a1111ModelHash(sha)).toHaveLength(10);
    expect(a1111LoraHash(addnet)).toBe(expected.lora_shorthash);
    expect(a1111LoraHash(addnet)).toHaveLength(12);
    expect(await legacyModelHash(path)).toBe(expected.model_hash);
  });

  test('the LoRA hash covers only the data section: new metadata keeps it, the file hash changes', async () => {
    const a = join(dir, 'meta-a.safetensors');
    const b = join(dir, 'meta-b.safetensors');
    writeSafetensors(a, loraTensors(2), { ss_output_name: 'a' });
    writeSafetensors(b, loraTensors(2), { ss_output_name: 'a much longer name', ss_tag_frequency: '{}' });
    expect(await addnetHashSafetensors(a)).toBe(await addnetHashSafetensors(b));
    expect(await sha256File(a)).not.toBe(await sha256File(b));
  });

  test('the LoRA hash refuses a file whose header length does not fit', async () => {
    const path = join(dir, 'bad-length.safetensors');
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(1000n);
    writeFileSync(path, bytes);
    const err = await addnetHashSafetensors(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION');
  });
});

describe('folder hash', () => {
  function makeModelFolder(root: string): void {
    mkdirSync(join(root, 'unet'), { recursive: true });
    mkdirSync(join(root, 'text_encoder'), { recursive: true });
    mkdirSync(join(root, 'scheduler'), { recursive: true });
    writeFileSync(join(root, 'model_index.json'), '{"_class_name": "OnnxStableDiffusionPipeline"}');
    writeFileSync(join(root, 'unet', 'model.onnx'), randomBytes(5000));
    writeFileSync(join(root, 'unet', 'weights.pb'), randomBytes(HASH_CHUNK_BYTES + 17));
    writeFileSync(join(root, 'text_encoder', 'model.onnx'), randomBytes(3000));
    writeFileSync(join(root, 'scheduler', 'scheduler_config.json'), '{}');
  }

  test('matches an independent Python computation of its definition, with progress over all bytes', async () => {
    const root = join(dir, 'model-folder');
    makeModelFolder(root);
    const progress: HashProgress[] = [];
    const result = await folderHash(root, { onProgress: (p) => progress.push(p) });
    const expected = python(
      `
import hashlib, os, sys
root = sys.argv[1]
files = []
for d, _, names in os.walk(root):
    for n in names:
        full = os.path.join(d, n)
        files.append(os.path.relpath(full, root).replace(os.sep, "/"))
outer = hashlib.sha256()
for rel in sorted(files, key=lambda r: r.encode("utf-8")):
    with open(os.path.join(root, rel), "rb") as f:
        inner = hashlib.sha256(f.read()).hexdigest()
    outer.update(rel.encode("utf-8") + b"\\0" + inner.encode() + b"\\n")
print(outer.hexdigest())
`,
      root,
    );
    expect(result.sha256).toBe(expected);
    expect(result.files.map((f) => f.path)).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/model.onnx',
      'unet/model.onnx',
      'unet/weights.pb',
    ]);
    const total = result.files.reduce((s, f) => s + f.size, 0);
    expect(progress.at(-1)).toEqual({ done: total, total });
    expect(progress.every((p, i) => i === 0 || p.done >= (progress[i - 1] as HashProgress).done)).toBe(true);
  });

  test('changes when any file changes, and not otherwise', async () => {
    const root = join(dir, 'model-folder-2');
    makeModelFolder(root);
    const first = await folderHash(root);
    expect((await folderHash(root)).sha256).toBe(first.sha256);
    writeFileSync(join(root, 'scheduler', 'scheduler_config.json'), '{ }');
    expect((await folderHash(root)).sha256).not.toBe(first.sha256);
  });
});

describe('HashCache', () => {
  test('skips unchanged files, across reopening, and re-hashes after a touch', async () => {
    const target = join(dir, 'cached.safetensors');
    writeSafetensors(target, loraTensors(3));
    const cacheFile = join(dir, 'cache', 'hashes.json');
    mkdirSync(join(dir, 'cache'));

    let hashedBytes = 0;
    const counting = { onProgress: (p: HashProgress) => (hashedBytes = p.done) };
    const cache = await HashCache.open(cacheFile);
    const sha = await cache.sha256(target, counting);
    expect(sha).toBe(await sha256File(target));
    expect(hashedBytes).toBeGreaterThan(0);

    hashedBytes = 0;
    expect(await cache.sha256(target, counting)).toBe(sha);
    expect(hashedBytes).toBe(0);

    const addnet = await cache.addnet(target, counting);
    expect(addnet).toBe(await addnetHashSafetensors(target));
    expect(hashedBytes).toBeGreaterThan(0);

    // Persisted: a fresh cache from the same file needs no hashing.
    hashedBytes = 0;
    const reopened = await HashCache.open(cacheFile);
    expect(await reopened.sha256(target, counting)).toBe(sha);
    expect(await reopened.addnet(target, counting)).toBe(addnet);
    expect(hashedBytes).toBe(0);
    const onDisk = JSON.parse(readFileSync(cacheFile, 'utf8')) as { version: number; entries: Record<string, unknown> };
    expect(onDisk.version).toBe(1);
    expect(onDisk.entries[target]).toMatchObject({ sha256: sha, addnet });
    // Atomic writes leave no temp files behind.
    expect(readdirSync(join(dir, 'cache'))).toEqual(['hashes.json']);

    // A touch (new mtime, same bytes) invalidates the entry: the file is hashed again.
    const later = new Date(Date.now() + 5000);
    utimesSync(target, later, later);
    expect(await reopened.peek('sha256', target)).toBeNull();
    hashedBytes = 0;
    expect(await reopened.sha256(target, counting)).toBe(sha);
    expect(hashedBytes).toBeGreaterThan(0);

    // New content is noticed and hashed.
    writeSafetensors(target, loraTensors(4));
    const changed = await reopened.sha256(target);
    expect(changed).not.toBe(sha);
    expect(changed).toBe(await sha256File(target));
  });

  test('concurrent requests for one file share one hashing', async () => {
    const target = join(dir, 'concurrent.bin');
    writeFileSync(target, randomBytes(HASH_CHUNK_BYTES + 1));
    const cache = await HashCache.open(join(dir, 'concurrent-cache.json'));
    let progressEvents = 0;
    const options = { onProgress: () => (progressEvents += 1) };
    const [a, b] = await Promise.all([cache.sha256(target, options), cache.sha256(target, options)]);
    expect(a).toBe(b);
    expect(progressEvents).toBe(2);
    await cache.flush();
  });

  test('a corrupt cache file starts empty and is rewritten', async () => {
    const cacheFile = join(dir, 'corrupt.json');
    writeFileSync(cacheFile, '{"version": 1, "entries": {"x": {"size": "big"}}');
    const target = join(dir, 'small.bin');
    writeFileSync(target, 'hello');
    const cache = await HashCache.open(cacheFile);
    expect(await cache.sha256(target)).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(JSON.parse(readFileSync(cacheFile, 'utf8'))).toMatchObject({ version: 1 });
  });
});
