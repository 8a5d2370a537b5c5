/**
 * LoRAs merged into fixture models: the merged initializers are W + w·(alpha/rank)·B·A (read back from the
 * returned model bytes and checked against the weights as the fixture stored them), weight 0 changes
 * nothing, LoRAs compose, unknown keys are reported, other families are refused, fp16 and external-data
 * fixtures work, and the merged model opens and runs in ONNX Runtime.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { afterAll, describe, expect, test } from 'vitest';
import { openSession, openSessionFromBytes, type GraphSession } from '../../../../src/main/engine/backend/ort';
import {
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ToFloat16Bits,
} from '../../../../src/main/engine/builder/float16';
import { Unet } from '../../../../src/main/engine/components/Unet';
import { loadModel } from '../../../../src/main/engine/Engine';
import { EngineError } from '../../../../src/main/engine/EngineError';
import { mergeLoras, openSessionWithLoras, type LoraInput } from '../../../../src/main/engine/lora/mergeLoras';
import { StableDiffusionPipeline } from '../../../../src/main/engine/pipelines/StableDiffusionPipeline';
import {
  fixtureModules,
  loadLoraTensors,
  writeFixtureLora,
  type FixtureLora,
  type FixtureLoraFormat,
  type FixtureLoraSpec,
  type FixtureModule,
  type FixturePart,
} from '../../../helpers/fixtureLoras';
import { ensureFixture } from '../../../helpers/fixtures';
import { makeTempDir } from '../../../helpers/tempDir';

const proto = onnxProto.onnx;
const FLOAT16 = proto.TensorProto.DataType.FLOAT16;

const temp = makeTempDir('sumi-lora-');
afterAll(() => temp.cleanup());

let fileCounter = 0;
async function makeLora(
  modelDir: string,
  part: FixturePart,
  spec: Partial<FixtureLoraSpec> & { format: FixtureLoraFormat },
  pick: (m: FixtureModule) => boolean = () => true,
): Promise<{ fixture: FixtureLora; tensors: LoraInput['tensors'] }> {
  const all = fixtureModules(modelDir, part);
  const fixture = writeFixtureLora(join(temp.dir, `lora-${fileCounter++}.safetensors`), {
    rank: 4,
    alpha: 2,
    seed: 11,
    layersPerBlock: 1,
    allModules: all,
    ...spec,
    modules: spec.modules ?? all.filter(pick),
  });
  return { fixture, tensors: await loadLoraTensors(fixture.file) };
}

/** Every float initializer of an ONNX model as float32, reading external data the plain way. */
function initializers(bytes: Uint8Array, dir: string): Map<string, Float32Array> {
  const model = proto.ModelProto.decode(bytes);
  const out = new Map<string, Float32Array>();
  for (const t of (model.graph?.initializer ?? []) as onnx.TensorProto[]) {
    if (t.dataType !== proto.TensorProto.DataType.FLOAT && t.dataType !== FLOAT16) continue;
    const count = (t.dims ?? []).reduce((n: number, d) => n * Number(d), 1);
    const size = t.dataType === FLOAT16 ? 2 : 4;
    let raw: Uint8Array;
    if (t.externalData && t.externalData.length > 0) {
      const get = (k: string): string => t.externalData.find((e) => e.key === k)?.value ?? '0';
      const file = readFileSync(join(dir, get('location')));
      raw = file.subarray(Number(get('offset')), Number(get('offset')) + count * size);
    } else if (t.rawData && t.rawData.length > 0) {
      raw = t.rawData;
    } else {
      out.set(
        t.name,
        t.dataType === FLOAT16 ? float16ArrayToFloat32(Uint16Array.from(t.int32Data)) : Float32Array.from(t.floatData),
      );
      continue;
    }
    const copy = Uint8Array.from(raw);
    out.set(
      t.name,
      t.dataType === FLOAT16 ? float16ArrayToFloat32(new Uint16Array(copy.buffer)) : new Float32Array(copy.buffer),
    );
  }
  return out;
}

function modelInitializers(file: string): Map<string, Float32Array> {
  return initializers(readFileSync(file), dirname(file));
}

/** W + Σ scale·B·A for the modules of `loras`, computed in float64, in each initializer's stored layout. */
function expectedWeights(
  original: Map<string, Float32Array>,
  loras: { fixture: FixtureLora; weight: number }[],
): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const { fixture, weight } of loras) {
    const scale = weight * ((fixture.alpha ?? fixture.rank) / fixture.rank);
    for (const m of fixture.modules) {
      let w = out.get(m.initializer);
      if (!w) {
        w = Float64Array.from(original.get(m.initializer) as Float32Array);
        out.set(m.initializer, w);
      }
      for (let o = 0; o < m.outFeatures; o++) {
        for (let c = 0; c < m.rowSize; c++) {
          let sum = 0;
          for (let r = 0; r < fixture.rank; r++)
            sum += (m.up[o * fixture.rank + r] as number) * (m.down[r * m.rowSize + c] as number);
          const index = m.transposed ? c * m.outFeatures + o : o * m.rowSize + c;
          w[index] = (w[index] as number) + scale * sum;
        }
      }
    }
  }
  return out;
}

function worstError(actual: Float32Array, expected: Float64Array, fp16: boolean): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const want = fp16 ? float16BitsToFloat32(float32ToFloat16Bits(expected[i] as number)) : (expected[i] as number);
    // fp16: one rounding of the exact sum, plus at most one ulp from float32 accumulation before it.
    const tolerance = fp16 ? Math.max(2 ** -24, Math.abs(want) * 2 ** -10) : 1e-5 * Math.max(1, Math.abs(want));
    worst = Math.max(worst, Math.abs((actual[i] as number) - want) / tolerance);
  }
  return worst;
}

const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function unetInputs(contextDim: number): Parameters<Unet['predict']>[0] {
  return {
    sample: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)),
    batch: 1,
    channels: 4,
    height: 8,
    width: 8,
    timestep: 500,
    encoderHiddenStates: Float32Array.from({ length: 77 * contextDim }, (_, i) => Math.cos(i * 0.011)),
    sequence: 77,
    contextDim,
  };
}

async function runUnet(session: GraphSession, contextDim = 768): Promise<Float32Array> {
  return new Unet(session).predict(unetInputs(contextDim));
}

const cpu = { providers: ['cpu'] as const };

describe('mergeLoras on fixture models', () => {
  test('weight 0 leaves every initializer identical and the UNet output and pixels identical', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const file = join(dir, 'unet', 'model.onnx');
    const { fixture, tensors } = await makeLora(dir, 'unet', { format: 'kohya' });
    const { bytes, report } = mergeLoras(file, [{ tensors, weight: 0, name: 'zero' }], { part: 'unet' });
    expect(report[0]).toMatchObject({ applied: fixture.modules.length, unmatched: [] });

    const before = modelInitializers(file);
    const after = initializers(bytes, dir);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, values] of before) expect(sameBytes(after.get(name) as Float32Array, values), name).toBe(true);
    // Self-contained: nothing left pointing at model.onnx_data.
    const model = proto.ModelProto.decode(bytes);
    expect(model.graph?.initializer?.every((t) => (t.externalData ?? []).length === 0)).toBe(true);

    const original = await openSession(file, cpu);
    const patched = await openSessionFromBytes(bytes, 'zero', cpu);
    expect(sameBytes(await runUnet(patched), await runUnet(original))).toBe(true);

    // The whole pipeline with the patched UNet swapped in gives the same pixels.
    const loaded = await loadModel(dir, cpu);
    const request = {
      prompt: 'a lighthouse at dusk',
      negativePrompt: '',
      width: 64,
      height: 64,
      steps: 2,
      cfg: 7,
      sampler: 'euler_a' as const,
      seed: 42,
      rng: 'torch-cpu' as const,
      batchSize: 1,
    };
    const plain = await loaded.pipeline.run(request);
    const swapped = new StableDiffusionPipeline({ ...loaded.pipeline.parts, unet: new Unet(patched) });
    const withZero = await swapped.run(request);
    expect(Buffer.from(withZero.images[0]?.data ?? []).equals(Buffer.from(plain.images[0]?.data ?? []))).toBe(true);
    await Promise.all([original.release(), patched.release(), ...loaded.sessions.map((s) => s.release())]);
  });

  const formats: FixtureLoraFormat[] = ['kohya', 'kohya-sgm', 'diffusers', 'peft'];
  test.each(formats)('%s LoRA at weight 0.8: merged UNet weights are W + w·(alpha/rank)·B·A', async (format) => {
    const dir = await ensureFixture('sd1-optimum');
    const file = join(dir, 'unet', 'model.onnx');
    const { fixture, tensors } = await makeLora(dir, 'unet', { format, alpha: format === 'peft' ? 8 : 2 });
    expect(fixture.modules.some((m) => m.op === 'Conv' && m.dims[2] === 3)).toBe(true); // LoCon 3x3 included
    expect(fixture.modules.some((m) => m.op === 'Gemm')).toBe(true);
    const { bytes, report } = mergeLoras(file, [{ tensors, weight: 0.8, name: format }], { part: 'unet' });
    expect(report[0]).toEqual({
      name: format,
      weight: 0.8,
      applied: fixture.modules.length,
      unmatched: [],
      otherParts: 0,
    });

    const before = modelInitializers(file);
    const after = initializers(bytes, dir);
    const expected = expectedWeights(before, [{ fixture, weight: 0.8 }]);
    for (const [name, want] of expected) {
      expect(worstError(after.get(name) as Float32Array, want, false), name).toBeLessThan(1);
      expect(sameBytes(after.get(name) as Float32Array, before.get(name) as Float32Array), name).toBe(false);
    }
    for (const [name, values] of before) {
      if (!expected.has(name)) expect(sameBytes(after.get(name) as Float32Array, values), name).toBe(true);
    }
  });

  test('old diffusers attention-processor LoRAs patch the attention projections', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const file = join(dir, 'unet', 'model.onnx');
    const { fixture, tensors } = await makeLora(dir, 'unet', { format: 'diffusers-processor', alpha: null }, (m) =>
      /attn[12]\.to_(q|k|v|out\.0)$/.test(m.modulePath),
    );
    const { bytes, report } = mergeLoras(file, [{ tensors, weight: 1, name: 'processor' }], { part: 'unet' });
    expect(report[0]?.applied).toBe(fixture.modules.length);
    const expected = expectedWeights(modelInitializers(file), [{ fixture, weight: 1 }]);
    const after = initializers(bytes, dir);
    for (const [name, want] of expected)
      expect(worstError(after.get(name) as Float32Array, want, false), name).toBeLessThan(1);
  });

  test('text-encoder LoRAs patch the text encoder; the UNet merge counts them as another part', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const teFile = join(dir, 'text_encoder', 'model.onnx');
    for (const format of ['kohya', 'diffusers', 'peft'] as const) {
      const { fixture, tensors } = await makeLora(dir, 'text_encoder', { format, alpha: 4 });
      const { bytes, report } = mergeLoras(teFile, [{ tensors, weight: -0.5, name: format }], { part: 'text_encoder' });
      expect(report[0]?.applied, format).toBe(fixture.modules.length);
      const expected = expectedWeights(modelInitializers(teFile), [{ fixture, weight: -0.5 }]);
      const after = initializers(bytes, dir);
      for (const [name, want] of expected)
        expect(worstError(after.get(name) as Float32Array, want, false), name).toBeLessThan(1);
      const onUnet = mergeLoras(join(dir, 'unet', 'model.onnx'), [{ tensors, weight: 1, name: format }], {
        part: 'unet',
      });
      expect(onUnet.report[0]).toMatchObject({ applied: 0, otherParts: fixture.modules.length, unmatched: [] });
    }
  });

  test('two LoRAs compose: the merged weight is W plus the sum of both deltas', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const file = join(dir, 'unet', 'model.onnx');
    const a = await makeLora(dir, 'unet', { format: 'kohya', seed: 1, rank: 4, alpha: 2 });
    const b = await makeLora(dir, 'unet', { format: 'peft', seed: 2, rank: 8, alpha: null }, (m) => m.op === 'MatMul');
    const { bytes, report } = mergeLoras(
      file,
      [
        { tensors: a.tensors, weight: 0.7, name: 'a' },
        { tensors: b.tensors, weight: -1.2, name: 'b' },
      ],
      { part: 'unet' },
    );
    expect(report.map((r) => r.applied)).toEqual([a.fixture.modules.length, b.fixture.modules.length]);
    const expected = expectedWeights(modelInitializers(file), [
      { fixture: a.fixture, weight: 0.7 },
      { fixture: b.fixture, weight: -1.2 },
    ]);
    const after = initializers(bytes, dir);
    for (const [name, want] of expected)
      expect(worstError(after.get(name) as Float32Array, want, false), name).toBeLessThan(1);
  });

  test('keys the model lacks and tensors of other network kinds are reported as unmatched', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const missing = 'lora_unet_down_blocks_7_attentions_0_transformer_blocks_0_attn1_to_q';
    const { fixture, tensors } = await makeLora(
      dir,
      'unet',
      {
        format: 'kohya',
        extra: {
          [`${missing}.lora_down.weight`]: { dtype: 'F32', shape: [4, 32], data: new Float32Array(128) },
          [`${missing}.lora_up.weight`]: { dtype: 'F32', shape: [32, 4], data: new Float32Array(128) },
          'lora_unet_mid_block_attentions_0_proj_in.hada_w1_a': {
            dtype: 'F32',
            shape: [4, 64],
            data: new Float32Array(256),
          },
        },
      },
      (m) => m.modulePath.startsWith('mid_block'),
    );
    const { report } = mergeLoras(join(dir, 'unet', 'model.onnx'), [{ tensors, weight: 1, name: 'partial' }], {
      part: 'unet',
    });
    expect(report[0]?.applied).toBe(fixture.modules.length);
    expect(report[0]?.unmatched.sort()).toEqual(
      [
        `${missing}.lora_down.weight`,
        `${missing}.lora_up.weight`,
        'lora_unet_mid_block_attentions_0_proj_in.hada_w1_a',
      ].sort(),
    );
  });

  test('a LoRA for another family is refused with the base model it needs', async () => {
    const sd1 = await ensureFixture('sd1-optimum');
    const sd2 = await ensureFixture('sd2-v');
    const { tensors } = await makeLora(sd2, 'unet', { format: 'kohya' });
    const attempt = (): unknown =>
      mergeLoras(join(sd1, 'unet', 'model.onnx'), [{ tensors, weight: 1, name: 'sd2-style' }], { part: 'unet' });
    expect(attempt).toThrow(EngineError);
    expect(attempt).toThrow(
      'LoRA "sd2-style" was trained for SD 2.x (cross-attention width 1024), but this model is SD 1.x (cross-attention width 768). Use it with an SD 2.x model.',
    );

    // The caller's family check catches SDXL LoRAs whose first text encoder has SD 1.x's width.
    const { tensors: teLora } = await makeLora(sd1, 'text_encoder', {
      format: 'kohya',
      extra: {
        'lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': {
          dtype: 'F32',
          shape: [4, 1280],
          data: new Float32Array(4 * 1280),
        },
        'lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': {
          dtype: 'F32',
          shape: [1280, 4],
          data: new Float32Array(4 * 1280),
        },
      },
    });
    expect(() =>
      mergeLoras(join(sd1, 'text_encoder', 'model.onnx'), [{ tensors: teLora, weight: 1, name: 'xl' }], {
        part: 'text_encoder',
        family: 'sd1',
      }),
    ).toThrow('LoRA "xl" was trained for SDXL, but this model is SD 1.x. Use it with an SDXL model.');
  });

  test('a module whose shape differs from the model is refused, naming the module', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const bad = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
    const { tensors } = await makeLora(dir, 'unet', {
      format: 'kohya',
      modules: [],
      extra: {
        [`${bad}.lora_down.weight`]: { dtype: 'F32', shape: [4, 48], data: new Float32Array(4 * 48) },
        [`${bad}.lora_up.weight`]: { dtype: 'F32', shape: [32, 4], data: new Float32Array(128) },
      },
    });
    expect(() =>
      mergeLoras(join(dir, 'unet', 'model.onnx'), [{ tensors, weight: 1, name: 'odd' }], { part: 'unet' }),
    ).toThrow(
      /LoRA "odd" does not fit this model: it patches down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q/,
    );
  });

  test('fp16 fixture: patched in fp16 within one fp16 rounding, F16 LoRA files read', async () => {
    const dir = await ensureFixture('sd1-fp16');
    const file = join(dir, 'unet', 'model.onnx');
    const { fixture, tensors } = await makeLora(dir, 'unet', { format: 'kohya', dtype: 'F16', alpha: 4 });
    const { bytes } = mergeLoras(file, [{ tensors, weight: 0.6, name: 'half' }], { part: 'unet' });
    const model = proto.ModelProto.decode(bytes);
    const patchedName = fixture.modules[0]?.initializer;
    expect(model.graph?.initializer?.find((t) => t.name === patchedName)?.dataType).toBe(FLOAT16);
    const expected = expectedWeights(modelInitializers(file), [{ fixture, weight: 0.6 }]);
    const after = initializers(bytes, dir);
    for (const [name, want] of expected)
      expect(worstError(after.get(name) as Float32Array, want, true), name).toBeLessThanOrEqual(1);

    const zero = mergeLoras(file, [{ tensors, weight: 0, name: 'half' }], { part: 'unet' });
    const before = modelInitializers(file);
    const unchanged = initializers(zero.bytes, dir);
    for (const [name, values] of before)
      expect(sameBytes(unchanged.get(name) as Float32Array, values), name).toBe(true);

    const session = await openSessionFromBytes(bytes, 'fp16 + lora', cpu);
    const out = await runUnet(session);
    expect(out.every(Number.isFinite)).toBe(true);
    await session.release();
  });

  test('sd1-diffusers (external weights.pb): merged, inlined, and the patched UNet runs differently', async () => {
    const dir = await ensureFixture('sd1-diffusers');
    const file = join(dir, 'unet', 'model.onnx');
    const { fixture, tensors } = await makeLora(dir, 'unet', { format: 'kohya-sgm' });
    const started = performance.now();
    const { session, report } = await openSessionWithLoras(
      file,
      [{ tensors, weight: 1, name: 'sgm' }],
      { part: 'unet' },
      cpu,
    );
    const mergeAndOpenMs = performance.now() - started;
    expect(report[0]?.applied).toBe(fixture.modules.length);
    const original = await openSession(file, cpu);
    const a = await runUnet(original);
    const b = await runUnet(session);
    expect(b.every(Number.isFinite)).toBe(true);
    expect(sameBytes(a, b)).toBe(false);
    console.log(
      JSON.stringify({
        fixture: 'sd1-diffusers',
        modules: fixture.modules.length,
        mergeAndOpenMs: Math.round(mergeAndOpenMs),
      }),
    );
    await Promise.all([original.release(), session.release()]);
  });

  test('a model that would exceed the protobuf limit is refused with a message that says why', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { tensors } = await makeLora(dir, 'unet', { format: 'kohya' });
    expect(() =>
      mergeLoras(join(dir, 'unet', 'model.onnx'), [{ tensors, weight: 1, name: 'big' }], {
        part: 'unet',
        maxBytes: 4_000_000,
      }),
    ).toThrow(
      /held in memory as one ONNX protobuf, which can be at most 4\.0 MB; with its weights inlined this model would be 8\.\d MB, so LoRAs cannot be applied to it/,
    );
  });

  test('merge time on the tiny fixture', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const file = join(dir, 'unet', 'model.onnx');
    const { fixture, tensors } = await makeLora(dir, 'unet', { format: 'kohya' });
    mergeLoras(file, [{ tensors, weight: 1, name: 'warm' }], { part: 'unet' });
    const runs = 5;
    const started = performance.now();
    for (let i = 0; i < runs; i++) mergeLoras(file, [{ tensors, weight: 1, name: 'timed' }], { part: 'unet' });
    const mergeMs = (performance.now() - started) / runs;
    console.log(
      JSON.stringify({ fixture: 'sd1-optimum', modules: fixture.modules.length, mergeMs: Number(mergeMs.toFixed(1)) }),
    );
    expect(mergeMs).toBeGreaterThan(0);
  });
});
