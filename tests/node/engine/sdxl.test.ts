/**
 * SDXL in the engine, on the SDXL fixture models (Optimum's contract, tiny random weights): the probe,
 * the two-encoder prompt encoding, the added conditions (`text_embeds`, `time_ids`) the UNet gets, the
 * base + refiner ensemble, and Turbo without CFG. Small sizes (64x64) although SDXL's default is 1024.
 */
import { afterAll, describe, expect, test } from 'vitest';
import type { GraphSession } from '../../../src/main/engine/backend/ort';
import { SdxlTextEncoder } from '../../../src/main/engine/components/SdxlTextEncoder';
import type { UnetCall } from '../../../src/main/engine/components/Unet';
import { Engine, type LoadedModel } from '../../../src/main/engine/Engine';
import { familyDefaults } from '../../../src/preload/contract';
import { createRng } from '../../../src/main/engine/rng';
import { probeVariant } from '../../../src/main/engine/model/modelFolder';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import { sdxlConditioning, sdxlTimeIds } from '../../../src/main/engine/pipelines/sdxlConditioning';
import { createScheduler } from '../../../src/main/engine/schedulers';
import { discreteTimestepCutoff, timestepsForDenoisingRange } from '../../../src/main/engine/schedulers/denoisingRange';
import { ensureFixture } from '../../helpers/fixtures';

const engines: Engine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.unload()));
});

function newEngine(): Engine {
  const engine = new Engine({ providers: ['cpu'] });
  engines.push(engine);
  return engine;
}

const base: DiffusionRequest = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: 'blurry',
  width: 64,
  height: 64,
  steps: 4,
  cfg: 6.5,
  sampler: 'euler',
  seed: 42,
  rng: 'torch-cpu',
  batchSize: 1,
};

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Records every UNet call the pipeline makes (batch, timestep and the extra feeds), passing it through. */
function recordUnetCalls(model: LoadedModel): UnetCall[] {
  const unet = model.pipeline.parts.unet;
  const calls: UnetCall[] = [];
  const predict = unet.predict.bind(unet);
  unet.predict = (call) => {
    calls.push(call);
    return predict(call);
  };
  return calls;
}

async function hiddenState(session: GraphSession, ids: number[], output: string): Promise<Float32Array> {
  const out = await session.run({ input_ids: { data: Int32Array.from(ids), dims: [1, ids.length] } }, [output]);
  return out[output]?.data as Float32Array;
}

describe('probe', () => {
  test('SDXL base, refiner and Turbo are told apart from their graphs and configs', async () => {
    const engine = newEngine();
    const sdxl = await engine.load(await ensureFixture('sdxl-base'));
    expect(sdxl.probe).toMatchObject({
      family: 'sdxl',
      vaeScalingFactor: 0.13025,
      crossAttentionDim: 2048,
      addedConditions: { textEmbedsDim: 1280, timeIds: 6 },
      requiresAestheticsScore: false,
      forceZerosForEmptyPrompt: true,
      turbo: false,
      defaultSize: 1024,
    });
    expect(familyDefaults(sdxl.probe.family, probeVariant(sdxl.probe))).toMatchObject({
      size: 1024,
      steps: 30,
      cfg: 6.5,
    });

    const refiner = await engine.load(await ensureFixture('sdxl-refiner'));
    expect(refiner.folder.parts.text_encoder).toBeUndefined();
    expect(refiner.probe).toMatchObject({
      family: 'sdxl-refiner',
      vaeScalingFactor: 0.13025,
      crossAttentionDim: 1280,
      addedConditions: { textEmbedsDim: 1280, timeIds: 5 },
      requiresAestheticsScore: true,
      forceZerosForEmptyPrompt: false,
      defaultSize: 1024,
    });

    const turbo = await engine.load(await ensureFixture('sdxl-turbo'));
    expect(turbo.probe).toMatchObject({ family: 'sdxl', turbo: true, defaultSize: 512 });
    expect(probeVariant(turbo.probe)).toBe('turbo');
    expect(familyDefaults(turbo.probe.family, probeVariant(turbo.probe))).toMatchObject({
      size: 512,
      steps: 1,
      cfg: 0,
    });

    const sd1 = await engine.load(await ensureFixture('sd1-optimum'));
    expect(sd1.probe).toMatchObject({ family: 'sd1', addedConditions: null, turbo: false, defaultSize: 512 });
    expect(familyDefaults(sd1.probe.family, probeVariant(sd1.probe))).toMatchObject({ size: 512, steps: 25, cfg: 7 });
    const lcm = await engine.load(await ensureFixture('sd1-lcm'));
    expect(probeVariant(lcm.probe)).toBe('lcm');
    expect(familyDefaults(lcm.probe.family, probeVariant(lcm.probe))).toMatchObject({ sampler: 'lcm', cfg: 1.5 });
    const sd2 = await engine.load(await ensureFixture('sd2-v'));
    expect(familyDefaults(sd2.probe.family, probeVariant(sd2.probe)).size).toBe(768);
    await engine.unload();
  });
});

describe('prompt encoding', () => {
  test('the penultimate hidden states of both encoders, concatenated; pooled from text_encoder_2', async () => {
    const engine = newEngine();
    const model = await engine.load(await ensureFixture('sdxl-base'));
    const encoder = model.pipeline.parts.textEncoder as SdxlTextEncoder;
    expect(encoder).toBeInstanceOf(SdxlTextEncoder);
    const embeds = await encoder.encode('a red car', 'blurry');
    expect([embeds.sequence, embeds.dim]).toEqual([77, 2048]);
    expect(embeds.pooledCond).toHaveLength(1280);

    const [first, second] = encoder.encoders;
    const ids1 = first!.tokenizer.encodeWithSpecials('a red car');
    const ids2 = second!.tokenizer.encodeWithSpecials('a red car');
    const pad = (ids: number[], padId: number): number[] => [...ids, ...new Array<number>(77 - ids.length).fill(padId)];
    // The fixture encoders have 2 layers: hidden_states.0..2, and SDXL takes hidden_states[-2].
    const h1 = await hiddenState(first!.session, pad(ids1, first!.tokenizer.eosId), 'hidden_states.1');
    const h2 = await hiddenState(second!.session, pad(ids2, second!.tokenizer.padId), 'hidden_states.1');
    expect(second!.tokenizer.padId).not.toBe(second!.tokenizer.eosId);
    for (const token of [0, 3, 40, 76]) {
      const row = embeds.cond.subarray(token * 2048, (token + 1) * 2048);
      expect(Array.from(row.subarray(0, 768))).toEqual(Array.from(h1.subarray(token * 768, (token + 1) * 768)));
      expect(Array.from(row.subarray(768))).toEqual(Array.from(h2.subarray(token * 1280, (token + 1) * 1280)));
    }
    const out = await second!.session.run(
      { input_ids: { data: Int32Array.from(pad(ids2, second!.tokenizer.padId)), dims: [1, 77] } },
      ['text_embeds'],
    );
    expect(Array.from(embeds.pooledCond!)).toEqual(Array.from(out.text_embeds!.data));
    expect(embeds.uncond.some((v) => v !== 0)).toBe(true);
    expect(embeds.pooledUncond!.some((v) => v !== 0)).toBe(true);
  });

  test('an empty negative prompt is zeros on the base (force_zeros_for_empty_prompt), encoded on the refiner', async () => {
    const engine = newEngine();
    const baseModel = await engine.load(await ensureFixture('sdxl-base'));
    const baseEmbeds = await baseModel.pipeline.parts.textEncoder.encode('a red car', '');
    expect(baseEmbeds.uncond.every((v) => v === 0)).toBe(true);
    expect(baseEmbeds.pooledUncond!.every((v) => v === 0)).toBe(true);

    const refiner = await engine.load(await ensureFixture('sdxl-refiner'));
    const refinerEmbeds = await refiner.pipeline.parts.textEncoder.encode('a red car', '');
    expect([refinerEmbeds.sequence, refinerEmbeds.dim]).toEqual([77, 1280]);
    expect(refinerEmbeds.uncond.some((v) => v !== 0)).toBe(true);
    expect(refinerEmbeds.pooledUncond!.some((v) => v !== 0)).toBe(true);
    await engine.unload();
  });

  test('weights and 75-token chunks work as in A1111; the pooled embedding is the first chunk’s', async () => {
    const engine = newEngine();
    const model = await engine.load(await ensureFixture('sdxl-base'));
    const encoder = model.pipeline.parts.textEncoder;
    const plain = await encoder.encode('a red car in the snow', '');
    const weighted = await encoder.encode('a (red:1.5) car in the snow', '');
    expect(Array.from(weighted.cond)).not.toEqual(Array.from(plain.cond));
    // Emphasis changes the sequence, not the pooled embedding (A1111 pools before weighting).
    expect(Array.from(weighted.pooledCond!)).toEqual(Array.from(plain.pooledCond!));

    const long = await encoder.encode(`a red car in the snow BREAK ${'mountains, '.repeat(10)}`, 'blurry');
    expect([long.sequence, long.dim]).toEqual([154, 2048]);
    const firstChunk = await encoder.encode('a red car in the snow', '');
    expect(Array.from(long.pooledCond!)).toEqual(Array.from(firstChunk.pooledCond!));
    expect(long.uncond).toHaveLength(154 * 2048);
    await engine.unload();
  });
});

describe('added conditions', () => {
  test('time ids follow diffusers’ _get_add_time_ids for the base and the refiner', () => {
    const xl = { requiresAestheticsScore: false };
    const refiner = { requiresAestheticsScore: true };
    expect(sdxlTimeIds(xl, 1152, 896)).toEqual({
      cond: [896, 1152, 0, 0, 896, 1152],
      uncond: [896, 1152, 0, 0, 896, 1152],
    });
    expect(
      sdxlTimeIds(xl, 1024, 1024, {
        originalSize: [512, 512],
        cropTopLeft: [16, 32],
        negativeOriginalSize: [256, 256],
      }),
    ).toEqual({ cond: [512, 512, 16, 32, 1024, 1024], uncond: [256, 256, 16, 32, 1024, 1024] });
    expect(sdxlTimeIds(refiner, 1024, 768)).toEqual({ cond: [768, 1024, 0, 0, 6], uncond: [768, 1024, 0, 0, 2.5] });
    expect(sdxlTimeIds(refiner, 64, 64, { aestheticScore: 7, negativeAestheticScore: 1 })).toEqual({
      cond: [64, 64, 0, 0, 7],
      uncond: [64, 64, 0, 0, 1],
    });
  });

  test('the pipeline feeds text_embeds and time_ids per CFG row, and the UNet uses them', async () => {
    const engine = newEngine();
    const model = await engine.load(await ensureFixture('sdxl-base'));
    const calls = recordUnetCalls(model);
    await engine.generate(model.dir, { ...base, width: 96, batchSize: 2, steps: 2 });
    expect(calls).toHaveLength(2);
    const extra = calls[0]!.extra!;
    expect(calls[0]!.batch).toBe(4);
    expect(extra.time_ids!.dims).toEqual([4, 6]);
    expect(Array.from(extra.time_ids!.data)).toEqual([...Array(4)].flatMap(() => [64, 96, 0, 0, 64, 96]));
    expect(extra.text_embeds!.dims).toEqual([4, 1280]);
    const embeds = await model.pipeline.parts.textEncoder.encode(base.prompt, base.negativePrompt);
    const rows = extra.text_embeds!.data as Float32Array;
    const row = (i: number): number[] => Array.from(rows.subarray(i * 1280, (i + 1) * 1280));
    expect([row(0), row(1), row(2), row(3)]).toEqual([
      Array.from(embeds.pooledUncond!),
      Array.from(embeds.pooledUncond!),
      Array.from(embeds.pooledCond!),
      Array.from(embeds.pooledCond!),
    ]);

    // The session takes the feeds, and the added conditions change the prediction.
    const built = sdxlConditioning({ probe: model.probe, embeds, width: 64, height: 64, batch: 1, guided: false });
    const call = (conditions: Parameters<typeof sdxlTimeIds>[3]): Promise<Float32Array> =>
      model.pipeline.parts.unet.predict({
        sample: new Float32Array(4 * 64).fill(0.5),
        batch: 1,
        channels: 4,
        height: 8,
        width: 8,
        timestep: 500,
        encoderHiddenStates: embeds.cond,
        sequence: 77,
        contextDim: 2048,
        extra: sdxlConditioning({
          probe: model.probe,
          embeds,
          width: 64,
          height: 64,
          batch: 1,
          guided: false,
          conditions,
        }),
      });
    expect(Object.keys(built!)).toEqual(['text_embeds', 'time_ids']);
    const plain = await call({});
    const cropped = await call({ cropTopLeft: [256, 0] });
    expect(plain).toHaveLength(4 * 64);
    expect(Array.from(cropped)).not.toEqual(Array.from(plain));
    await engine.unload();
  });

  test('the refiner gets the aesthetic scores: 2.5 for the negative rows, 6 for the prompt', async () => {
    const engine = newEngine();
    const model = await engine.load(await ensureFixture('sdxl-refiner'));
    const calls = recordUnetCalls(model);
    await engine.generate(model.dir, { ...base, steps: 1 });
    expect(calls[0]!.extra!.time_ids!.dims).toEqual([2, 5]);
    expect(Array.from(calls[0]!.extra!.time_ids!.data)).toEqual([64, 64, 0, 0, 2.5, 64, 64, 0, 0, 6]);
    await engine.unload();
  });
});

describe('generation', () => {
  test('SDXL base: txt2img is reproducible; the seed and the prompt matter', async () => {
    const engine = newEngine();
    const dir = await ensureFixture('sdxl-base');
    const a = await engine.generate(dir, base);
    const b = await engine.generate(dir, base);
    expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    const otherSeed = await engine.generate(dir, { ...base, seed: 43 });
    expect(same(a.images[0]!.data, otherSeed.images[0]!.data)).toBe(false);
    const otherPrompt = await engine.generate(dir, { ...base, prompt: 'a red bicycle in the snow' });
    expect(same(a.images[0]!.data, otherPrompt.images[0]!.data)).toBe(false);
    expect(a.info.cfg).toBe(true);
    await engine.unload();
  });

  test('SDXL base: img2img is reproducible and keeps the size', async () => {
    const engine = newEngine();
    const dir = await ensureFixture('sdxl-base');
    const data = new Uint8Array(64 * 64 * 4);
    for (let i = 0; i < 64 * 64; i++) data.set([(i % 64) * 4, 128, 255 - (i % 64) * 4, 255], i * 4);
    const init = { image: { width: 64, height: 64, data }, strength: 0.5 };
    const a = await engine.generate(dir, { ...base, init });
    const b = await engine.generate(dir, { ...base, init });
    expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    expect(a.timings.steps).toBe(2);
    await engine.unload();
  });

  test('base + refiner: reproducible, the latents handed over, different from the base alone', async () => {
    const engine = newEngine();
    const [dir, refinerDir] = await Promise.all([ensureFixture('sdxl-base'), ensureFixture('sdxl-refiner')]);
    const request: DiffusionRequest = { ...base, steps: 5, refiner: { modelDir: refinerDir, switchAt: 0.6 } };
    const progress: [number, number][] = [];
    const a = await engine.generate(dir, request, { onStep: ({ step, total }) => void progress.push([step, total]) });
    expect(engine.current?.probe.family).toBe('sdxl-refiner');
    const b = await engine.generate(dir, request);
    expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    // Euler, 5 steps ("leading"): 801, 601, 401, 201, 1; the cutoff at 0.6 is 400: 3 base, 2 refiner steps.
    expect(progress).toEqual([
      [1, 5],
      [2, 5],
      [3, 5],
      [4, 5],
      [5, 5],
    ]);
    expect(a.timings.steps).toBe(5);
    expect(a.model.probe.family).toBe('sdxl');

    // The same run in its two halves: the base stops at 0.6 with latents only, the refiner continues them.
    const first = await engine.generate(dir, { ...base, steps: 5, denoisingEnd: 0.6, outputType: 'latent' });
    expect(first.images).toEqual([]);
    expect(first.timings.steps).toBe(3);
    const refiner = await engine.load(refinerDir);
    const calls = recordUnetCalls(refiner);
    const second = await engine.generate(refinerDir, {
      ...base,
      steps: 5,
      handover: { latents: first.latents, denoisingStart: 0.6 },
    });
    expect(calls.map((c) => Math.round(c.timestep))).toEqual([201, 1]);
    expect(same(second.images[0]!.data, a.images[0]!.data)).toBe(true);
    await expect(
      engine.generate(refinerDir, { ...base, handover: { latents: new Float32Array(3), denoisingStart: 0.5 } }),
    ).rejects.toThrow(/handed-over latents have 3 values/);

    const alone = await engine.generate(dir, { ...base, steps: 5 });
    expect(same(a.images[0]!.data, alone.images[0]!.data)).toBe(false);

    // An ancestral sampler draws noise in both halves: one generator runs through both, as diffusers
    // does when both pipelines get the same one; a second generator from the seed would differ.
    const ancestral: DiffusionRequest = { ...base, steps: 5, sampler: 'euler_a' };
    const ensemble = await engine.generate(dir, { ...ancestral, refiner: { modelDir: refinerDir, switchAt: 0.6 } });
    const halves = async (shared: boolean) => {
      const rng = createRng(ancestral.rng, ancestral.seed);
      const head = await engine.generate(dir, { ...ancestral, denoisingEnd: 0.6, outputType: 'latent' }, { rng });
      const tail = await engine.generate(
        refinerDir,
        { ...ancestral, handover: { latents: head.latents, denoisingStart: 0.6 } },
        shared ? { rng } : {},
      );
      return tail.images[0]!.data;
    };
    expect(same(await halves(true), ensemble.images[0]!.data)).toBe(true);
    expect(same(await halves(false), ensemble.images[0]!.data)).toBe(false);
    await engine.unload();
  });

  test('SDXL Turbo: one step at CFG 0, without a CFG batch', async () => {
    const engine = newEngine();
    const dir = await ensureFixture('sdxl-turbo');
    const model = await engine.load(dir);
    const calls = recordUnetCalls(model);
    const request: DiffusionRequest = { ...base, width: 64, height: 64, steps: 1, cfg: 0, sampler: 'euler_a' };
    const a = await engine.generate(dir, request);
    const b = await engine.generate(dir, request);
    expect(a.timings.steps).toBe(1);
    expect(a.info.cfg).toBe(false);
    expect(calls[0]!.batch).toBe(1);
    // Trailing spacing: the single step starts at the top of the schedule.
    expect(calls[0]!.timestep).toBe(999);
    expect(calls[0]!.extra!.time_ids!.dims).toEqual([1, 6]);
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    const otherSeed = await engine.generate(dir, { ...request, seed: 7 });
    expect(same(a.images[0]!.data, otherSeed.images[0]!.data)).toBe(false);
    await engine.unload();
  });
});

describe('denoising range', () => {
  test('denoising end and start split one schedule at diffusers’ discrete cutoff', () => {
    expect(discreteTimestepCutoff(0.8, 1000)).toBe(200);
    expect(discreteTimestepCutoff(0.7995, 1000)).toBe(200);
    const config = { num_train_timesteps: 1000, steps_offset: 1, timestep_spacing: 'leading' };
    const full = createScheduler('euler', config);
    full.setTimesteps(10);
    const head = timestepsForDenoisingRange(createScheduler('euler', config), 10, { end: 0.8 }, 1000);
    const tail = timestepsForDenoisingRange(createScheduler('euler', config), 10, { start: 0.8 }, 1000);
    expect([...head, ...tail]).toEqual([...full.timesteps]);
    expect(head.every((t) => t >= 200)).toBe(true);
    expect(tail.every((t) => t < 200)).toBe(true);
    // A second-order scheduler never stops between a step's two model calls.
    const heun = timestepsForDenoisingRange(createScheduler('heun', config), 10, { start: 0.5 }, 1000);
    expect(heun.length % 2).toBe(1);
    expect(() => timestepsForDenoisingRange(full, 10, { start: 0.5, end: 0.4 }, 1000)).toThrow(/before its end/);
  });
});
