/**
 * Engine benchmark: the full pipeline's time per denoising step against bare `session.run` of the
 * same UNet on identical inputs, measured in the same run, as `overheadRatio` (pipeline step / bare
 * step). Also model load time, time to first image and peak RSS. Prints one JSON object.
 *
 *   npm run bench:engine [-- --tiny-only] [-- --steps N] [-- --size PX]
 *
 * Models: the tiny SD 1.x and SDXL fixtures, and (unless --tiny-only) a model with SD 1.5's full-size UNet in
 * fp16, generated on first use (~1.7 GB, ~25 s; not part of CI).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ort, toOrtTensor, type GraphSession } from '../src/main/engine/backend/ort';
import { loadModel } from '../src/main/engine/Engine';
import {
  benchmarkVariants,
  buildStableDiffusion,
  fixtureVariants,
  isUpToDate,
  type ModelSpec,
} from '../src/main/engine/builder/sdModels';
import type { DiffusionRequest } from '../src/main/engine/pipelines/StableDiffusionPipeline';

const repoRoot = resolve(import.meta.dirname, '..');
const fixturesDir = join(repoRoot, 'tests/fixtures/generated');
const clipVocabDir = resolve(repoRoot, '../shared/data/clip');

const { values } = parseArgs({
  options: {
    'tiny-only': { type: 'boolean', default: false },
    steps: { type: 'string', default: '4' },
    size: { type: 'string' },
    rounds: { type: 'string', default: '3' },
  },
});

async function ensure(name: string, spec: ModelSpec): Promise<string> {
  const dir = join(fixturesDir, name);
  const options = { clipVocabDir, replace: true };
  if (!(await isUpToDate(dir, spec, options))) await buildStableDiffusion(dir, spec, options);
  return dir;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Bare ORT: the UNet's feeds built once in the graph's own dtypes, then `run` timed `steps` times. */
async function bareUnetStepMs(
  unet: GraphSession,
  latent: number,
  steps: number,
  contextDim: number,
  channels = 4,
): Promise<number> {
  const batch = 2;
  const input = (name: string) => {
    const spec = unet.inputs.get(name);
    if (!spec) throw new Error(`UNet has no ${name}`);
    return spec;
  };
  const sample = new Float32Array(batch * channels * latent * latent).map((_, i) => Math.sin(i));
  const context = new Float32Array(batch * 77 * contextDim).map((_, i) => Math.cos(i) * 0.5);
  const timestepSpec = input('timestep');
  const feeds: Record<string, ort.Tensor> = {
    sample: toOrtTensor({ data: sample, dims: [batch, channels, latent, latent] }, input('sample')),
    timestep: toOrtTensor(
      {
        data: new Float32Array(timestepSpec.shape.length ? batch : 1).fill(500),
        dims: timestepSpec.shape.length ? [batch] : [],
      },
      timestepSpec,
    ),
    encoder_hidden_states: toOrtTensor(
      { data: context, dims: [batch, 77, contextDim] },
      input('encoder_hidden_states'),
    ),
  };
  // SDXL's added conditions: a pooled embedding and the size/crop time ids per row.
  const textEmbeds = unet.inputs.get('text_embeds');
  const timeIds = unet.inputs.get('time_ids');
  if (textEmbeds && timeIds) {
    const width = typeof textEmbeds.shape[1] === 'number' ? textEmbeds.shape[1] : 1280;
    const count = typeof timeIds.shape[1] === 'number' ? timeIds.shape[1] : 6;
    const pooled = new Float32Array(batch * width).map((_, i) => Math.sin(i * 0.1));
    feeds.text_embeds = toOrtTensor({ data: pooled, dims: [batch, width] }, textEmbeds);
    const ids = new Float32Array(batch * count).fill(latent * 8);
    feeds.time_ids = toOrtTensor({ data: ids, dims: [batch, count] }, timeIds);
  }
  await unet.runRaw(feeds); // warm-up, as the pipeline's first step warms up too
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await unet.runRaw(feeds);
  return (performance.now() - t0) / steps;
}

async function benchModel(name: string, dir: string, size: number, steps: number, rounds: number) {
  const t0 = performance.now();
  const model = await loadModel(dir, { providers: ['cpu'] });
  const loadMs = performance.now() - t0;
  const request: DiffusionRequest = {
    prompt: 'a lighthouse at dusk, oil painting',
    negativePrompt: 'blurry',
    width: size,
    height: size,
    steps,
    cfg: 7,
    sampler: 'euler_a',
    seed: 1,
    rng: 'torch-cpu',
    batchSize: 1,
  };
  const first = await model.pipeline.run(request);
  const timeToFirstImageMs = loadMs + first.timings.encodeMs + first.timings.denoiseMs + first.timings.decodeMs;
  const unet = model.pipeline.parts.unet.session;
  const pipelineSteps: number[] = [];
  const bareSteps: number[] = [];
  // Interleave the two measurements so that machine noise hits both alike.
  for (let r = 0; r < rounds; r++) {
    const run = await model.pipeline.run(request);
    pipelineSteps.push(run.timings.denoiseMs / run.timings.steps);
    bareSteps.push(await bareUnetStepMs(unet, size / 8, steps, model.probe.crossAttentionDim));
  }
  await Promise.all(model.sessions.map((s) => s.release()));
  const pipelineStepMs = median(pipelineSteps);
  const bareUnetStepMsMedian = median(bareSteps);
  return {
    model: name,
    family: model.probe.family,
    precision: model.probe.precision,
    size,
    steps,
    rounds,
    loadMs: Math.round(loadMs),
    timeToFirstImageMs: Math.round(timeToFirstImageMs),
    pipelineStepSeconds: pipelineStepMs / 1000,
    bareUnetStepSeconds: bareUnetStepMsMedian / 1000,
    overheadRatio: pipelineStepMs / bareUnetStepMsMedian,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

/**
 * Inpainting at `size` (a centred square mask over half the image), by the path the UNet selects:
 * the inpainting UNet's 9-channel input or masked blending. The step time is measured between step
 * callbacks, so the fixed VAE encodes before the loop are reported apart (`prepareSeconds`).
 */
async function benchInpaint(name: string, dir: string, size: number, steps: number, rounds: number) {
  const model = await loadModel(dir, { providers: ['cpu'] });
  const image = { width: size, height: size, data: new Uint8Array(size * size * 4).map((_, i) => (i * 7) % 256) };
  const mask = { width: size, height: size, data: new Uint8Array(size * size) };
  for (let y = size / 4; y < (3 * size) / 4; y++) mask.data.fill(255, y * size + size / 4, y * size + (3 * size) / 4);
  const request: DiffusionRequest = {
    mode: 'inpaint',
    prompt: 'a lighthouse at dusk, oil painting',
    negativePrompt: 'blurry',
    width: size,
    height: size,
    steps,
    cfg: 7,
    sampler: 'euler_a',
    seed: 1,
    rng: 'torch-cpu',
    batchSize: 1,
    init: { image, strength: 1 },
    mask,
  };
  const timed = async () => {
    const marks: number[] = [];
    const t0 = performance.now();
    const run = await model.pipeline.run(request, { onStep: () => void marks.push(performance.now()) });
    const first = marks[0] as number;
    const last = marks[marks.length - 1] as number;
    // The first step's share of the time before the first callback, the rest is preparation.
    const stepMs = (last - first) / Math.max(1, marks.length - 1);
    return { run, stepMs, prepareMs: first - t0 - run.timings.encodeMs - stepMs };
  };
  const warm = await timed();
  const unet = model.pipeline.parts.unet.session;
  const pipelineSteps: number[] = [];
  const bareSteps: number[] = [];
  const prepare: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const { stepMs, prepareMs } = await timed();
    pipelineSteps.push(stepMs);
    prepare.push(prepareMs);
    bareSteps.push(
      await bareUnetStepMs(unet, size / 8, steps, model.probe.crossAttentionDim, model.probe.unetInChannels),
    );
  }
  await Promise.all(model.sessions.map((s) => s.release()));
  const pipelineStepMs = median(pipelineSteps);
  const bare = median(bareSteps);
  return {
    model: name,
    mode: 'inpaint',
    path: warm.run.info.path,
    size,
    steps,
    rounds,
    pipelineStepSeconds: pipelineStepMs / 1000,
    bareUnetStepSeconds: bare / 1000,
    overheadRatio: pipelineStepMs / bare,
    prepareSeconds: median(prepare) / 1000,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

async function main(): Promise<void> {
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  const results = [];
  const tiny = await ensure('sd1-optimum', fixtureVariants['sd1-optimum']);
  results.push(await benchModel('tiny sd1-optimum', tiny, Number(values.size ?? 512), steps, rounds));
  const inpaintUnet = await ensure('sd1-inpaint', fixtureVariants['sd1-inpaint']);
  results.push(await benchInpaint('tiny sd1-inpaint', inpaintUnet, Number(values.size ?? 512), steps, rounds));
  results.push(await benchInpaint('tiny sd1-optimum', tiny, Number(values.size ?? 512), steps, rounds));
  const sdxl = await ensure('sdxl-base', fixtureVariants['sdxl-base']);
  results.push(await benchModel('tiny sdxl-base', sdxl, Number(values.size ?? 512), steps, rounds));
  if (!values['tiny-only']) {
    const full = await ensure('sd15-full-unet', benchmarkVariants['sd15-full-unet']);
    results.push(await benchModel('SD 1.5-size UNet (fp16)', full, Number(values.size ?? 256), steps, rounds));
    results.push(await benchInpaint('SD 1.5-size UNet (fp16)', full, Number(values.size ?? 256), steps, rounds));
  }
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'engine', onnxruntime: ort.env.versions.node, provider: 'cpu', cpus: (await import('node:os')).cpus().length, results }, null, 2)}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
