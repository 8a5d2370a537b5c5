/**
 * Switching LoRA weights rebuilds only what changed: the engine keeps a part's session while the LoRA
 * weight that part sees (A1111's separate `te` and `unet` weights) stays the same, and every re-merge
 * starts from the weights on disk (a new weight replaces the old one; it never stacks on it).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Unet } from '../../../../src/main/engine/components/Unet';
import { Engine, type LoadedModel, type LoraSpec } from '../../../../src/main/engine/Engine';
import { fixtureModules, loadLoraTensors, writeFixtureLora } from '../../../helpers/fixtureLoras';
import { ensureFixture } from '../../../helpers/fixtures';
import { makeTempDir } from '../../../helpers/tempDir';

const temp = makeTempDir('sumi-remerge-');
afterAll(() => temp.cleanup());
const cpu = { providers: ['cpu'] as const };

const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function unetOut(model: LoadedModel): Promise<Float32Array> {
  return new Unet(model.pipeline.parts.unet.session).predict({
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

const teOut = async (model: LoadedModel): Promise<Float32Array> =>
  (await model.pipeline.parts.textEncoder.encode('a paper fox', '')).cond;

async function fixtureLora(dir: string): Promise<Omit<LoraSpec, 'weight'>> {
  const file = join(temp.dir, 'both-parts.safetensors');
  writeFixtureLora(file, {
    format: 'kohya',
    modules: [...fixtureModules(dir, 'unet').filter((m) => m.op === 'MatMul'), ...fixtureModules(dir, 'text_encoder')],
    rank: 4,
    alpha: 2,
    seed: 21,
  });
  const tensors = await loadLoraTensors(file);
  return {
    id: 'both-parts-hash',
    name: 'both-parts',
    tensors: Object.fromEntries(tensors.keys().map((k) => [k, tensors.get(k)])),
    metadata: {},
  };
}

describe('switching LoRA weights', () => {
  test('a new UNet weight re-merges only the UNet, a new TE weight only the text encoder', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const lora = await fixtureLora(dir);
    const engine = new Engine(cpu);

    const a = await engine.load(dir, [{ ...lora, weight: 0.8 }]);
    const afterFirst = engine.parts.builds;
    const [teA, unetA] = [a.pipeline.parts.textEncoder.session, a.pipeline.parts.unet.session];
    const [teOutA, unetOutA] = [await teOut(a), await unetOut(a)];
    expect(a.loras[0]?.applied).toBeGreaterThan(0);

    // <lora:both-parts:0.8:0.3>: the text encoder keeps its session, the UNet is merged again.
    const b = await engine.load(dir, [{ ...lora, weight: 0.8, unetWeight: 0.3 }]);
    expect(engine.parts.builds).toBe(afterFirst + 1);
    expect(b.pipeline.parts.textEncoder.session).toBe(teA);
    expect(b.pipeline.parts.unet.session).not.toBe(unetA);
    expect(b.pipeline.parts.vaeDecoder).toBeDefined();
    expect(sameBytes(await teOut(b), teOutA)).toBe(true);
    expect(b.loras[0]?.applied).toBe(a.loras[0]?.applied);

    // <lora:both-parts:0.5:0.3>: now only the text encoder.
    const c = await engine.load(dir, [{ ...lora, weight: 0.8, teWeight: 0.5, unetWeight: 0.3 }]);
    expect(engine.parts.builds).toBe(afterFirst + 2);
    expect(c.pipeline.parts.unet.session).toBe(b.pipeline.parts.unet.session);
    expect(sameBytes(await teOut(c), teOutA)).toBe(false);

    // Never stacks: after 0.8 -> 0.3 the UNet is exactly a fresh merge at 0.3, and 0 is the plain UNet.
    const unetOutC = await unetOut(c);
    const fresh = new Engine(cpu);
    const direct = await fresh.load(dir, [{ ...lora, weight: 0.3 }]);
    expect(sameBytes(unetOutC, await unetOut(direct))).toBe(true);
    expect(sameBytes(unetOutC, unetOutA)).toBe(false);
    await fresh.unload();

    const zero = await engine.load(dir, [{ ...lora, weight: 0.5, unetWeight: 0 }]);
    const plainEngine = new Engine(cpu);
    const plain = await plainEngine.load(dir);
    expect(sameBytes(await unetOut(zero), await unetOut(plain))).toBe(true);
    await plainEngine.unload();

    // Same LoRA set and weights: nothing is rebuilt.
    const builds = engine.parts.builds;
    await engine.load(dir, [{ ...lora, weight: 0.5, unetWeight: 0 }]);
    expect(engine.parts.builds).toBe(builds);

    // Another model: every part is rebuilt, and the old ones released.
    const other = await ensureFixture('sd1-diffusers');
    await engine.load(other, [{ ...lora, weight: 0.5 }]);
    expect(engine.parts.builds).toBeGreaterThanOrEqual(builds + 3);
    await engine.unload();
    expect(engine.parts.size).toBe(0);
  });
});
