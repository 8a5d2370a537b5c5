/**
 * `sumi models list | hash | import` as a user runs them: the CLI's TypeScript through tsx in its own
 * process (no build needed), on a real data folder, downloading from a local Hugging Face look-alike.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LibraryEntry } from '../../../src/preload/contract';
import { addnetHashSafetensors, folderHash } from '../../../src/main/services/models/hashing';
import { ensureFixture } from '../../helpers/fixtures';
import { startHfServer, type HfServer } from '../../helpers/hfServer';
import { encodeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const repoRoot = resolve(import.meta.dirname, '../../..');
const temp = makeTempDir('sumi-models-cli-');
let server: HfServer;

beforeAll(async () => {
  server = await startHfServer({ 'test-org/tiny-sd': await ensureFixture('sd1-optimum') });
});

afterAll(async () => {
  await server?.close();
  temp.cleanup();
});

/** Runs the CLI without blocking this process (the test's HTTP server must keep answering). */
function sumi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'src/main/cli.ts'), ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.node.json'), HF_ENDPOINT: server.baseUrl },
        timeout: 120_000,
      },
      (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const lora = encodeSafetensors(
  {
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': {
      dtype: 'F32',
      shape: [2, 4],
      data: [1, 2, 3, 4, 5, 6, 7, 8],
    },
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': {
      dtype: 'F32',
      shape: [4, 2],
      data: [8, 7, 6, 5, 4, 3, 2, 1],
    },
  },
  { ss_output_name: 'moth' },
);

// Each run starts tsx (seconds on a busy two-core machine).
describe('sumi models', { timeout: 240_000 }, () => {
  test('hash prints every sha256, the folder hash and A1111 short hashes', async () => {
    const file = join(temp.dir, 'moth.safetensors');
    writeFileSync(file, lora);
    const r = await sumi('models', 'hash', file, '--json');
    expect(r.stderr).toBe('');
    const sha = createHash('sha256').update(lora).digest('hex');
    const addnet = await addnetHashSafetensors(file);
    expect(JSON.parse(r.stdout)).toMatchObject({
      sha256: sha,
      size: lora.length,
      modelHash: sha.slice(0, 10),
      addnetHash: addnet,
      loraHash: addnet.slice(0, 12),
    });
    const text = await sumi('models', 'hash', file);
    expect(text.stdout).toContain(`Lora hash (A1111, 12 hex) ${addnet.slice(0, 12)}`);

    const model = await ensureFixture('sd1-optimum');
    const folder = JSON.parse((await sumi('models', 'hash', model, '--json')).stdout) as {
      folderSha256: string;
      files: { path: string; sha256: string }[];
    };
    const expected = await folderHash(model);
    expect(folder.folderSha256).toBe(expected.sha256);
    expect(folder.files.find((f) => f.path === 'unet/model.onnx')?.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(model, 'unet/model.onnx')))
        .digest('hex'),
    );
    const missing = await sumi('models', 'hash', join(temp.dir, 'nothing'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file or folder');
  });

  test('import copies a file in and downloads a repository by URL, resuming a dropped file; list shows both', async () => {
    const data = join(temp.dir, 'data');
    const file = join(temp.dir, 'moth-import.safetensors');
    writeFileSync(file, lora);
    const copied = await sumi('models', 'import', file, '--data', data, '--json');
    expect(copied.code).toBe(0);
    expect(JSON.parse(copied.stdout)).toMatchObject({
      id: 'loras/moth-import.safetensors',
      entry: { kind: 'lora', status: 'ok' },
    });

    server.cutOnce.add('test-org/tiny-sd:unet/model.onnx_data');
    const downloaded = await sumi('models', 'import', `${server.baseUrl}/test-org/tiny-sd`, '--data', data);
    expect(downloaded.stderr).toMatch(/downloading tiny-sd: 100% \(16\.\d MB of 16\.\d MB\)/);
    expect(downloaded.code).toBe(0);
    expect(downloaded.stdout.trim()).toBe('Imported tiny-sd');
    expect(
      server.requests
        .filter((r) => r.path === '/cdn/test-org/tiny-sd/unet/model.onnx_data')
        .map((r) => r.range !== null),
    ).toEqual([false, true]);

    const list = JSON.parse((await sumi('models', 'list', '--data', data, '--json')).stdout) as LibraryEntry[];
    expect(list.map((e) => [e.id, e.kind, e.status])).toEqual([
      ['tiny-sd', 'model', 'ok'],
      ['loras/moth-import.safetensors', 'lora', 'ok'],
    ]);
    expect(list[1]?.shortHash).toMatch(/^[0-9a-f]{12}$/);
    const table = (await sumi('models', 'list', '--data', data)).stdout.split('\n');
    expect(table[0]).toBe('kind\tid\tfamily\tprecision\tsize\thash\tstatus');
    expect(table[1]).toMatch(/^model\ttiny-sd\tsd1\t/);

    const refused = await sumi(
      'models',
      'import',
      `${server.baseUrl}/test-org/tiny-sd/resolve/main/x.ckpt`,
      '--data',
      data,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sumi: .*pickle/);
    const again = await sumi('models', 'import', 'test-org/tiny-sd', '--data', data);
    expect(again.stderr).toContain('already in the library');
  });
});
