/**
 * LoRAs on models with external data (diffusers' `weights.pb`), without re-serialising the whole model:
 * the `memory` route hands ORT every external tensor as in-memory external data (`SessionOptions.externalData`,
 * how models over protobuf's 2 GB take LoRAs), the `folder` route inlines only the patched tensors and lets
 * ORT read the rest from the model's folder. Both must give the session exactly the merged weights.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { afterAll, describe, expect, test } from 'vitest';
import { openSession, type GraphSession } from '../../../../src/main/engine/backend/ort';
import { Unet } from '../../../../src/main/engine/components/Unet';
import { Engine, type LoraSpec } from '../../../../src/main/engine/Engine';
import { openPatchedSession, patchModel } from '../../../../src/main/engine/lora/patchModel';
import { fixtureModules, loadLoraTensors, writeFixtureLora, type FixtureLora } from '../../../helpers/fixtureLoras';
import { ensureFixture } from '../../../helpers/fixtures';
import { makeTempDir } from '../../../helpers/tempDir';

const proto = onnxProto.onnx;
const temp = makeTempDir('sumi-lora-external-');
afterAll(() => temp.cleanup());
const cpu = { providers: ['cpu'] as const };

const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function runUnet(session: GraphSession): Promise<Float32Array> {
  return new Unet(session).predict({
    sample: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)),
    batch: 1,
    channels: 4,
    height: 8,
    width: 8,
    timestep: 500,
    encoderHiddenStates: Float32Array.from({ length: 77 * 768 }, (_, i) => Math.cos(i * 0.011)),
    sequence: 77,
    contextDim: 768,
  });
}

/** The original (external) values of the fixture's float initializers. */
function originalWeights(file: string, dir: string): Map<string, Float32Array> {
  const model = proto.ModelProto.decode(readFileSync(file));
  const out = new Map<string, Float32Array>();
  for (const t of (model.graph?.initializer ?? []) as onnx.TensorProto[]) {
    if (t.dataType !== proto.TensorProto.DataType.FLOAT || !t.externalData?.length) continue;
    const get = (k: string): string => t.externalData.find((e) => e.key === k)?.value ?? '0';
    const bytes = readFileSync(join(dir, get('location'))).subarray(
      Number(get('offset')),
      Number(get('offset')) + Number(get('length')),
    );
    out.set(t.name, new Float32Array(Uint8Array.from(bytes).buffer));
  }
  return out;
}

/** W + w·(alpha/rank)·B·A in float64, in each initializer's stored layout. */
function expected(original: Map<string, Float32Array>, lora: FixtureLora, weight: number): Map<string, Float64Array> {
  const scale = weight * ((lora.alpha ?? lora.rank) / lora.rank);
  const out = new Map<string, Float64Array>();
  for (const m of lora.modules) {
    const w = Float64Array.from(original.get(m.initializer) as Float32Array);
    for (let o = 0; o < m.outFeatures; o++) {
      for (let c = 0; c < m.rowSize; c++) {
        let sum = 0;
        for (let r = 0; r < lora.rank; r++)
          sum += (m.up[o * lora.rank + r] as number) * (m.down[r * m.rowSize + c] as number);
        const i = m.transposed ? c * m.outFeatures + o : o * m.rowSize + c;
        w[i] = (w[i] as number) + scale * sum;
      }
    }
    out.set(m.initializer, w);
  }
  return out;
}

describe('LoRAs on external-data models', () => {
  test('the memory route hands ORT exactly the merged weights; every route runs the same UNet', async () => {
    const dir = await ensureFixture('sd1-diffusers');
    const file = join(dir, 'unet', 'model.onnx');
    const fixture = writeFixtureLora(join(temp.dir, 'ext.safetensors'), {
      format: 'kohya',
      modules: fixtureModules(dir, 'unet').filter((m) => m.op !== 'Gemm'),
      rank: 4,
      alpha: 2,
      seed: 8,
    });
    const tensors = await loadLoraTensors(fixture.file);
    const lora = [{ tensors, weight: 0.7, name: 'ext' }];

    const memory = patchModel(file, lora, { part: 'unet', route: 'memory' });
    expect(memory.source?.route).toBe('memory');
    // The protobuf holds no weights of its own (7.9 MB in weights.pb), only the graph and small constants.
    expect(memory.source?.bytes.byteLength).toBeLessThan(readFileSync(file).byteLength * 1.1);

    // What ORT is handed for each patched initializer is W + w·(alpha/rank)·B·A.
    const model = proto.ModelProto.decode(memory.source?.bytes as Uint8Array);
    const files = new Map((memory.source?.externalFiles ?? []).map((f) => [f.path, f.data]));
    const want = expected(originalWeights(file, join(dir, 'unet')), fixture, 0.7);
    expect(want.size).toBeGreaterThan(10);
    for (const [name, values] of want) {
      const t = (model.graph?.initializer as onnx.TensorProto[]).find((x) => x.name === name) as onnx.TensorProto;
      const location = t.externalData.find((e) => e.key === 'location')?.value as string;
      const got = new Float32Array(Uint8Array.from(files.get(location) as Uint8Array).buffer);
      let worst = 0;
      for (let i = 0; i < values.length; i++)
        worst = Math.max(
          worst,
          Math.abs((got[i] as number) - (values[i] as number)) / Math.max(1, Math.abs(values[i] as number)),
        );
      expect(worst, name).toBeLessThan(1e-5);
    }

    const folder = patchModel(file, lora, { part: 'unet', route: 'folder' });
    expect(folder.source?.route).toBe('folder');
    expect(folder.source?.externalFolder).toBe(join(dir, 'unet'));
    const inline = patchModel(file, lora, { part: 'unet', route: 'inline' });
    expect(inline.source?.route).toBe('inline');

    const sessions = await Promise.all(
      [memory, folder, inline].map((p, i) => openPatchedSession(file, p, cpu, `route ${i}`)),
    );
    const outs = await Promise.all(sessions.map(runUnet));
    expect(sameBytes(outs[0] as Float32Array, outs[2] as Float32Array)).toBe(true);
    expect(sameBytes(outs[1] as Float32Array, outs[2] as Float32Array)).toBe(true);
    const original = await openSession(file, cpu);
    expect(sameBytes(outs[0] as Float32Array, await runUnet(original))).toBe(false);

    // Weight 0 patches nothing: the file itself is opened.
    const zero = patchModel(file, [{ tensors, weight: 0, name: 'ext' }], { part: 'unet', route: 'memory' });
    expect(zero.source).toBeNull();
    expect(zero.report[0]?.applied).toBe(fixture.modules.length);
    await Promise.all([...sessions, original].map((s) => s.release()));
  });

  test('pipeline on the memory route: weight 0 gives the same pixels as no LoRA, 0.8 different ones', async () => {
    const dir = await ensureFixture('sd1-diffusers');
    const file = join(temp.dir, 'pixels.safetensors');
    writeFixtureLora(file, {
      format: 'kohya-sgm',
      modules: fixtureModules(dir, 'unet'),
      allModules: fixtureModules(dir, 'unet'),
      layersPerBlock: 1,
      rank: 4,
      alpha: 4,
      seed: 2,
    });
    const tensors = await loadLoraTensors(file);
    const spec = (weight: number): LoraSpec => ({
      id: 'pixels',
      name: 'pixels',
      weight,
      tensors: Object.fromEntries(tensors.keys().map((k) => [k, tensors.get(k)])),
      metadata: {},
    });
    const request = {
      prompt: 'a lighthouse at dusk',
      negativePrompt: '',
      width: 64,
      height: 64,
      steps: 2,
      cfg: 7,
      sampler: 'euler' as const,
      seed: 5,
      rng: 'torch-cpu' as const,
      batchSize: 1,
    };
    const engine = new Engine({ ...cpu, mergeRoute: 'memory' });
    const pixels = async (loras: LoraSpec[]): Promise<Buffer> =>
      Buffer.from((await engine.generate(dir, request, {}, loras)).images[0]?.data ?? []);
    const plain = await pixels([]);
    // Only the UNet (unetWeight) so the text encoder takes no part: its weights are inline anyway.
    expect((await pixels([{ ...spec(0), unetWeight: 0 }])).equals(plain)).toBe(true);
    expect((await pixels([{ ...spec(0), unetWeight: 0.8 }])).equals(plain)).toBe(false);
    await engine.unload();
  });
});
