/**
 * SDXL LoRAs and embeddings on the SDXL fixture: a kohya SDXL LoRA (SGM UNet names, `lora_te1_` /
 * `lora_te2_` for the two text encoders) patches all three parts with the expected weights, LoRAs of
 * another base are refused naming the base they need, and an SDXL embedding (`clip_l` + `clip_g`) reaches
 * both encoders.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine, type LoraSpec } from '../../../../src/main/engine/Engine';
import { patchModel } from '../../../../src/main/engine/lora/patchModel';
import { readEmbeddingFile } from '../../../../src/main/services/models/embeddings';
import { fixtureTokenTable, writeFixtureEmbedding } from '../../../helpers/fixtureEmbeddings';
import {
  fixtureModules,
  loadLoraTensors,
  writeFixtureLora,
  type FixtureLora,
  type FixtureLoraSpec,
} from '../../../helpers/fixtureLoras';
import { ensureFixture } from '../../../helpers/fixtures';
import { makeTempDir } from '../../../helpers/tempDir';

const proto = onnxProto.onnx;
const temp = makeTempDir('sumi-sdxl-lora-');
afterAll(() => temp.cleanup());
const cpu = { providers: ['cpu'] as const };

async function loraSpec(
  file: string,
  spec: Omit<FixtureLoraSpec, 'rank' | 'alpha' | 'seed'>,
): Promise<{ fixture: FixtureLora; spec: Omit<LoraSpec, 'weight'> }> {
  const fixture = writeFixtureLora(file, { rank: 4, alpha: 2, seed: 13, ...spec });
  const tensors = await loadLoraTensors(file);
  return {
    fixture,
    spec: {
      id: file,
      name: file.replace(/^.*\/|\.safetensors$/g, ''),
      tensors: Object.fromEntries(tensors.keys().map((k) => [k, tensors.get(k)])),
      metadata: {},
    },
  };
}

/** An initializer's float32 values from an inline (self-contained) model. */
function initializer(bytes: Uint8Array, name: string): Float32Array {
  const model = proto.ModelProto.decode(bytes);
  const t = (model.graph?.initializer as onnx.TensorProto[]).find((x) => x.name === name) as onnx.TensorProto;
  return new Float32Array(Uint8Array.from(t.rawData).buffer);
}

const request = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: '',
  width: 64,
  height: 64,
  steps: 2,
  cfg: 5,
  sampler: 'euler' as const,
  seed: 3,
  rng: 'torch-cpu' as const,
  batchSize: 1,
};

describe('SDXL LoRAs and embeddings', () => {
  test('a kohya SDXL LoRA patches the UNet and both text encoders', async () => {
    const dir = await ensureFixture('sdxl-base');
    const unet = fixtureModules(dir, 'unet');
    const te1 = fixtureModules(dir, 'text_encoder');
    const te2 = fixtureModules(dir, 'text_encoder_2');
    const { fixture, spec } = await loraSpec(join(temp.dir, 'xl-style.safetensors'), {
      format: 'kohya-sgm',
      sdxl: true,
      modules: [...unet, ...te1, ...te2],
      allModules: unet,
      layersPerBlock: 1,
    });
    expect(fixture.modules.some((m) => m.downKey.startsWith('lora_te1_'))).toBe(true);
    expect(fixture.modules.some((m) => m.downKey.startsWith('lora_te2_'))).toBe(true);
    expect(fixture.modules.some((m) => m.downKey.startsWith('lora_unet_input_blocks_'))).toBe(true);

    const engine = new Engine(cpu);
    const plain = Buffer.from((await engine.generate(dir, request)).images[0]?.data ?? []);
    const styled = await engine.generate(dir, request, {}, [{ ...spec, weight: 0.8 }]);
    expect(styled.model.probe.family).toBe('sdxl');
    expect(styled.model.loras[0]).toMatchObject({ applied: fixture.modules.length, unmatched: [] });
    expect(Buffer.from(styled.images[0]?.data ?? []).equals(plain)).toBe(false);
    const zero = await engine.generate(dir, request, {}, [{ ...spec, weight: 0 }]);
    expect(Buffer.from(zero.images[0]?.data ?? []).equals(plain)).toBe(true);
    await engine.unload();

    // lora_te2_ lands on text_encoder_2: W + w·(alpha/rank)·B·A there.
    const te2File = join(dir, 'text_encoder_2', 'model.onnx');
    const tensors = await loadLoraTensors(fixture.file);
    const patched = patchModel(te2File, [{ tensors, weight: 0.5, name: 'xl' }], {
      part: 'text_encoder_2',
      family: 'sdxl',
      route: 'inline',
    });
    expect(patched.report[0]?.applied).toBe(te2.length);
    const original = readFileSync(te2File);
    for (const m of fixture.modules.filter((x) => x.part === 'text_encoder_2').slice(0, 4)) {
      const before = initializer(original, m.initializer);
      const after = initializer(patched.source?.bytes as Uint8Array, m.initializer);
      const o = 1;
      const c = 2;
      let sum = 0;
      for (let r = 0; r < 4; r++) sum += (m.up[o * 4 + r] as number) * (m.down[r * m.rowSize + c] as number);
      const i = m.transposed ? c * m.outFeatures + o : o * m.rowSize + c;
      expect(after[i]).toBeCloseTo((before[i] as number) + 0.5 * (2 / 4) * sum, 5);
    }
  });

  test('LoRAs of another base are refused, saying which base they need', async () => {
    const xl = await ensureFixture('sdxl-base');
    const sd1 = await ensureFixture('sd1-optimum');
    const sd1Lora = await loraSpec(join(temp.dir, 'sd1-style.safetensors'), {
      format: 'kohya',
      modules: fixtureModules(sd1, 'unet').filter((m) => /attn2\.to_[kv]$/.test(m.modulePath)),
    });
    const engine = new Engine(cpu);
    await expect(engine.load(xl, [{ ...sd1Lora.spec, weight: 1 }])).rejects.toThrow(
      'LoRA "sd1-style" was trained for SD 1.x (cross-attention width 768), but this model is SDXL ' +
        '(cross-attention width 2048). Use it with an SD 1.x model.',
    );
    const xlLora = await loraSpec(join(temp.dir, 'xl-only.safetensors'), {
      format: 'kohya',
      sdxl: true,
      modules: [...fixtureModules(xl, 'text_encoder'), ...fixtureModules(xl, 'text_encoder_2')],
    });
    await expect(engine.load(sd1, [{ ...xlLora.spec, weight: 1 }])).rejects.toThrow(
      'LoRA "xl-only" was trained for SDXL, but this model is SD 1.x. Use it with an SDXL model.',
    );
    await engine.unload();
  });

  test('an SDXL embedding reaches both encoders; an SD 1.x one is refused', async () => {
    const dir = await ensureFixture('sdxl-base');
    const t1 = fixtureTokenTable(dir, 'text_encoder');
    const t2 = fixtureTokenTable(dir, 'text_encoder_2');
    const file = join(temp.dir, 'xl-word.safetensors');
    writeFixtureEmbedding(file, { format: 'sdxl', count: 2, width: t1.width, width2: t2.width, seed: 6 });
    const { spec } = await readEmbeddingFile(file);
    const engine = new Engine(cpu);
    const plain = Buffer.from((await engine.generate(dir, { ...request, prompt: 'xl-word' })).images[0]?.data ?? []);
    const withWord = await engine.generate(dir, { ...request, prompt: 'xl-word' }, {}, [], [spec]);
    expect(withWord.model.embeddings).toEqual([{ name: 'xl-word', vectors: 2 }]);
    expect(withWord.model.tokenizer.encode('XL-word')).toEqual([t1.rows, t1.rows + 1]);
    expect(Buffer.from(withWord.images[0]?.data ?? []).equals(plain)).toBe(false);

    const sd1File = join(temp.dir, 'sd1-word.safetensors');
    writeFixtureEmbedding(sd1File, { format: 'a1111', count: 1, width: t1.width, seed: 6 });
    const sd1Word = await readEmbeddingFile(sd1File);
    await expect(engine.load(dir, [], [sd1Word.spec])).rejects.toThrow(
      /Embedding "sd1-word" is .* but this is an SDXL model/,
    );
    await engine.unload();
  });
});
