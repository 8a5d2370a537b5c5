/**
 * Downloading models by URL against a local Hugging Face look-alike (tests/helpers/hfServer.ts)
 * serving a fixture model in the Hub's API shape: resuming after a dropped connection, refusing a
 * file whose sha256 does not match, refusing pickles, and landing a model the engine can open.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { LibraryEntry, ModelImportProgress } from '../../../src/preload/contract';
import { EngineClient } from '../../../src/main/services/generation/EngineClient';
import {
  downloadModel,
  parseModelSource,
  selectOnnxFiles,
  type DownloadProgress,
} from '../../../src/main/services/models/download';
import { createTestApp } from '../../helpers/appHarness';
import { spawnTestEngine } from '../../helpers/engineHarness';
import { ensureFixture } from '../../helpers/fixtures';
import { startHfServer, type HfServer } from '../../helpers/hfServer';
import { encodeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-download-');
let server: HfServer;
let fixture: string;
let run = 0;

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

const loraBytes = encodeSafetensors(
  {
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': {
      dtype: 'F32',
      shape: [2, 4],
      data: [1, 2, 3, 4, 5, 6, 7, 8],
    },
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': {
      dtype: 'F32',
      shape: [4, 2],
      data: [1, 2, 3, 4, 5, 6, 7, 8],
    },
  },
  { ss_tag_frequency: JSON.stringify({ d: { kite: 3 } }) },
);
const embeddingBytes = encodeSafetensors({
  emb_params: { dtype: 'F32', shape: [2, 768], data: new Array(1536).fill(0.5) },
});

beforeAll(async () => {
  fixture = await ensureFixture('sd1-optimum');
  // The repository as the Hub would hold it: the ONNX export plus things a download must leave alone.
  const repo = join(temp.dir, 'repo');
  cpSync(fixture, repo, { recursive: true });
  writeFileSync(join(repo, 'README.md'), '# tiny');
  writeFileSync(join(repo, 'unet', 'diffusion_pytorch_model.bin'), Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
  writeFileSync(join(repo, 'unet', 'diffusion_pytorch_model.safetensors'), loraBytes);
  const pytorchOnly = join(temp.dir, 'pytorch-only');
  mkdirSync(join(pytorchOnly, 'unet'), { recursive: true });
  writeFileSync(join(pytorchOnly, 'model_index.json'), '{}');
  writeFileSync(join(pytorchOnly, 'unet', 'diffusion_pytorch_model.bin'), Buffer.alloc(16));
  server = await startHfServer({
    'test-org/tiny-sd': repo,
    'test-org/pytorch-only': pytorchOnly,
    'test-org/nested': { 'README.md': Buffer.from('x'), ...prefixed('onnx', repo) },
    'test-org/adapters': {
      'kite.safetensors': loraBytes,
      'style.safetensors': embeddingBytes,
      'old.ckpt': Buffer.from([0x80, 0x02]),
    },
  });
});

function prefixed(prefix: string, dir: string): Record<string, Buffer> {
  return Object.fromEntries(filesUnder(dir).map((f) => [`${prefix}/${f}`, readFileSync(join(dir, f))]));
}

afterEach(() => {
  server.cutOnce.clear();
  server.corrupt.clear();
  server.stall.clear();
  server.ignoreRange = false;
  server.requests.length = 0;
});

afterAll(async () => {
  await server?.close();
  temp.cleanup();
});

function modelsDir(): string {
  const dir = join(temp.dir, `models-${++run}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('parseModelSource', () => {
  test('reads repository, folder and file addresses, and ORG/NAME', () => {
    expect(parseModelSource('https://huggingface.co/org/name')).toEqual({
      kind: 'repo',
      repo: 'org/name',
      revision: 'main',
      subfolder: '',
    });
    expect(parseModelSource('https://huggingface.co/org/name/tree/onnx-fp16/sub/dir')).toMatchObject({
      repo: 'org/name',
      revision: 'onnx-fp16',
      subfolder: 'sub/dir',
    });
    expect(parseModelSource('org/name')).toMatchObject({ kind: 'repo', repo: 'org/name' });
    expect(parseModelSource('https://huggingface.co/org/name/blob/main/loras/x.safetensors')).toEqual({
      kind: 'file',
      url: 'https://huggingface.co/org/name/resolve/main/loras/x.safetensors',
      fileName: 'x.safetensors',
      hf: { repo: 'org/name', revision: 'main', path: 'loras/x.safetensors' },
    });
    expect(parseModelSource('https://example.com/files/y.safetensors?download=1')).toMatchObject({
      kind: 'file',
      fileName: 'y.safetensors',
      hf: null,
    });
  });

  test('refuses pickles before a byte is fetched, and things that are not models', () => {
    expect(() => parseModelSource('https://huggingface.co/org/name/resolve/main/model.ckpt')).toThrow(/pickle/);
    expect(() => parseModelSource('https://example.com/lora.pt')).toThrow(/pickle/);
    expect(() => parseModelSource('https://example.com/model.zip')).toThrow(/only .safetensors/);
    expect(() => parseModelSource('https://huggingface.co/datasets/org/name')).toThrow(/dataset/);
    expect(() => parseModelSource('not a url')).toThrow(/not a URL/);
  });

  test('takes only what a diffusers ONNX folder needs', () => {
    const files = [
      'model_index.json',
      'README.md',
      'unet/config.json',
      'unet/model.onnx',
      'unet/weights.pb',
      'unet/diffusion_pytorch_model.safetensors',
      'unet/diffusion_pytorch_model.bin',
      'text_encoder_2/model.onnx',
      'text_encoder_2/model.onnx_data',
      'text_encoder/pytorch_model.bin',
      'text_encoder/model.safetensors',
      'tokenizer_2/merges.txt',
      'scheduler/scheduler_config.json',
      'vae_decoder/model.onnx',
      'feature_extractor/preprocessor_config.json',
      'safety_checker/model.onnx',
    ].map((path) => ({ path, size: 1, sha256: null }));
    const { files: taken, pickles } = selectOnnxFiles(files);
    expect(taken.map((f) => f.path)).toEqual([
      'model_index.json',
      'unet/config.json',
      'unet/model.onnx',
      'unet/weights.pb',
      'text_encoder_2/model.onnx',
      'text_encoder_2/model.onnx_data',
      'tokenizer_2/merges.txt',
      'scheduler/scheduler_config.json',
      'vae_decoder/model.onnx',
    ]);
    expect(pickles).toEqual(['unet/diffusion_pytorch_model.bin', 'text_encoder/pytorch_model.bin']);
  });
});

describe('downloadModel', () => {
  test('resumes a file with a Range request after the connection drops; every file matches its sha256', async () => {
    const models = modelsDir();
    server.cutOnce.add('test-org/tiny-sd:unet/model.onnx_data');
    const progress: DownloadProgress[] = [];
    const result = await downloadModel(`${server.baseUrl}/test-org/tiny-sd`, {
      modelsDir: models,
      baseUrl: server.baseUrl,
      retryDelayMs: 10,
      onProgress: (p) => progress.push(p),
    });
    expect(result.id).toBe('tiny-sd');
    const dir = join(models, 'tiny-sd');
    const data = server.requests.filter((r) => r.path === '/cdn/test-org/tiny-sd/unet/model.onnx_data');
    expect(data).toHaveLength(2);
    expect(data[0]?.range).toBeNull();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(data[1]?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThan(statSync(join(fixture, 'unet', 'model.onnx_data')).size);

    // Everything the fixture has but its sumi_model.json marker, byte for byte; nothing else.
    const expected = filesUnder(fixture).filter((f) => f !== 'sumi_model.json');
    expect(filesUnder(dir)).toEqual(expected);
    for (const f of expected) expect(sha256(join(dir, f)), f).toBe(sha256(join(fixture, f)));
    expect(result.skipped).toEqual(
      expect.arrayContaining(['unet/diffusion_pytorch_model.bin', 'unet/diffusion_pytorch_model.safetensors']),
    );
    expect(server.requests.some((r) => r.path.endsWith('.bin'))).toBe(false);
    expect(existsSync(join(models, '.downloads'))).toBe(false);

    const last = progress.at(-1);
    expect(last?.doneBytes).toBe(last?.totalBytes);
    expect(last?.totalBytes).toBe(expected.reduce((n, f) => n + statSync(join(fixture, f)).size, 0));
    expect(progress.some((p) => p.file === 'unet/model.onnx_data')).toBe(true);

    const engine = new EngineClient(spawnTestEngine(), { providers: ['cpu'] });
    try {
      const report = await engine.probe(dir);
      expect(report.probe).toMatchObject({ family: 'sd1', predictionType: 'epsilon' });
    } finally {
      await engine.dispose();
    }
  });

  test('a file whose sha256 does not match is deleted and named with both hashes; trying again resumes the rest', async () => {
    const models = modelsDir();
    server.corrupt.add('test-org/tiny-sd:unet/model.onnx_data');
    const truth = sha256(join(fixture, 'unet', 'model.onnx_data'));
    const error = await downloadModel(`${server.baseUrl}/test-org/tiny-sd`, {
      modelsDir: models,
      baseUrl: server.baseUrl,
      retryDelayMs: 10,
    }).then(
      () => new Error('resolved'),
      (err: unknown) => err as Error,
    );
    expect(error).toMatchObject({ code: 'VALIDATION' });
    expect(error.message).toContain('unet/model.onnx_data');
    expect(error.message).toContain(`expected sha256 ${truth}`);
    expect(error.message).toMatch(/got [0-9a-f]{64}/);
    const staging = join(models, '.downloads', 'tiny-sd');
    expect(existsSync(join(staging, 'unet', 'model.onnx_data.part'))).toBe(false);
    expect(existsSync(join(models, 'tiny-sd'))).toBe(false);

    // The server is fixed; files finished before the failure are not fetched again.
    server.corrupt.clear();
    server.requests.length = 0;
    await downloadModel(`${server.baseUrl}/test-org/tiny-sd`, { modelsDir: models, baseUrl: server.baseUrl });
    expect(server.requests.some((r) => r.path.endsWith('/text_encoder/model.onnx'))).toBe(false);
    expect(sha256(join(models, 'tiny-sd', 'unet', 'model.onnx_data'))).toBe(truth);
  });

  test('a server that ignores Range sends the whole file again, and the part is rewritten, not appended to', async () => {
    const models = modelsDir();
    const part = join(models, '.downloads', 'tiny-sd', 'unet', 'model.onnx_data.part');
    mkdirSync(join(part, '..'), { recursive: true });
    writeFileSync(part, Buffer.alloc(5000, 7));
    server.ignoreRange = true;
    await downloadModel(`${server.baseUrl}/test-org/tiny-sd`, { modelsDir: models, baseUrl: server.baseUrl });
    const request = server.requests.find((r) => r.path === '/cdn/test-org/tiny-sd/unet/model.onnx_data');
    expect(request?.range).toBe('bytes=5000-');
    expect(sha256(join(models, 'tiny-sd', 'unet', 'model.onnx_data'))).toBe(
      sha256(join(fixture, 'unet', 'model.onnx_data')),
    );
  });

  test('refuses a pickle, a PyTorch-only repository, and says where the ONNX export is when it is in a folder', async () => {
    const models = modelsDir();
    const options = { modelsDir: models, baseUrl: server.baseUrl };
    await expect(downloadModel(`${server.baseUrl}/test-org/adapters/resolve/main/old.ckpt`, options)).rejects.toThrow(
      /pickle/,
    );
    await expect(downloadModel(`${server.baseUrl}/test-org/pytorch-only`, options)).rejects.toThrow(
      /not a diffusers ONNX model: it has no unet\/model.onnx.*PyTorch weights/,
    );
    await expect(downloadModel(`${server.baseUrl}/test-org/nested`, options)).rejects.toThrow(/try onnx/);
    expect(server.requests.every((r) => !r.path.startsWith('/cdn/'))).toBe(true);
    const nested = await downloadModel(`${server.baseUrl}/test-org/nested/tree/main/onnx`, {
      ...options,
      name: 'from folder',
    });
    expect(nested.id).toBe('from-folder');
    expect(existsSync(join(models, 'from-folder', 'unet', 'model.onnx'))).toBe(true);
    await expect(
      downloadModel(`${server.baseUrl}/test-org/nested/tree/main/onnx`, { ...options, name: 'from folder' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(downloadModel(`${server.baseUrl}/test-org/missing`, options)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  test('a .safetensors file lands in loras/ or embeddings/ by its tensors, checked against the listed sha256', async () => {
    const models = modelsDir();
    const options = { modelsDir: models, baseUrl: server.baseUrl };
    const lora = await downloadModel(`${server.baseUrl}/test-org/adapters/blob/main/kite.safetensors`, options);
    expect(lora).toMatchObject({
      id: 'loras/kite.safetensors',
      files: [{ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
    expect(readFileSync(join(models, 'loras', 'kite.safetensors')).equals(loraBytes)).toBe(true);
    await expect(
      downloadModel(`${server.baseUrl}/test-org/adapters/blob/main/kite.safetensors`, options),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    rmSync(join(models, 'loras', 'kite.safetensors'));
    const embedding = await downloadModel(
      `${server.baseUrl}/test-org/adapters/resolve/main/style.safetensors`,
      options,
    );
    expect(embedding.id).toBe('embeddings/style.safetensors');

    // Any other server: no listing, so no sha256; the size comes from Content-Length.
    const progress: DownloadProgress[] = [];
    const direct = await downloadModel(`${server.baseUrl}/cdn/test-org/adapters/kite.safetensors`, {
      modelsDir: models,
      baseUrl: 'https://hub.invalid',
      onProgress: (p) => progress.push(p),
    });
    expect(direct).toMatchObject({ id: 'loras/kite.safetensors', files: [{ sha256: null, size: null }] });
    expect(progress.at(-1)).toMatchObject({ doneBytes: loraBytes.length, totalBytes: loraBytes.length });
  });

  test('cancelling stops the download', async () => {
    const models = modelsDir();
    server.stall.add('test-org/tiny-sd:unet/model.onnx_data');
    const controller = new AbortController();
    const job = downloadModel(`${server.baseUrl}/test-org/tiny-sd`, {
      modelsDir: models,
      baseUrl: server.baseUrl,
      signal: controller.signal,
      onProgress: (p) => p.file === 'unet/model.onnx_data' && p.doneBytes > 0 && controller.abort(),
    });
    await expect(job).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('the library downloads', () => {
  async function call<T>(app: Awaited<ReturnType<typeof createTestApp>>, method: string, input: unknown): Promise<T> {
    const result = await app.router.dispatch(method, input);
    if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
    return result.value as T;
  }

  test('models.download reports progress with the file, lists the model and opens it; models.cancelImport discards', async () => {
    process.env.HF_ENDPOINT = server.baseUrl;
    const app = await createTestApp(join(temp.dir, 'app'));
    delete process.env.HF_ENDPOINT;
    const events: ModelImportProgress[] = [];
    app.hub.subscribe((event, payload) => event === 'models.import' && events.push(payload as ModelImportProgress));
    try {
      await expect(call(app, 'models.download', { url: 'test-org/pytorch-only' })).rejects.toMatchObject({
        code: 'VALIDATION',
      });
      const { importId, id } = await call<{ importId: string; id: string }>(app, 'models.download', {
        url: `${server.baseUrl}/test-org/tiny-sd`,
        name: 'Tiny SD',
      });
      expect(id).toBe('Tiny-SD');
      await expect
        .poll(() => events.find((e) => e.importId === importId && e.finished), { timeout: 30_000 })
        .toBeTruthy();
      const done = events.filter((e) => e.importId === importId);
      expect(done.at(-1)).toMatchObject({ error: null, id: 'Tiny-SD' });
      expect(done.some((e) => e.file === 'unet/model.onnx')).toBe(true);
      const entry = (await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === 'Tiny-SD');
      expect(entry).toMatchObject({
        status: 'ok',
        family: 'sd1',
        notes: `Downloaded from ${server.baseUrl}/test-org/tiny-sd`,
      });
      expect(await call<LibraryEntry>(app, 'models.check', { id: 'Tiny-SD' })).toMatchObject({ family: 'sd1' });

      server.stall.add('test-org/tiny-sd:unet/model.onnx_data');
      const second = await call<{ importId: string }>(app, 'models.download', { url: 'test-org/tiny-sd' });
      await expect
        .poll(() => events.some((e) => e.importId === second.importId && e.file === 'unet/model.onnx_data'))
        .toBe(true);
      await call(app, 'models.cancelImport', { importId: second.importId });
      await expect
        .poll(() => events.find((e) => e.importId === second.importId && e.finished)?.error)
        .toBe('cancelled');
      expect(existsSync(join(app.settings.get().modelsDir, '.downloads'))).toBe(false);
      await expect(call(app, 'models.cancelImport', { importId: second.importId })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    } finally {
      await app.dispose();
    }
  });
});
