/**
 * Engine benchmark: the full pipeline's time per denoising step against bare `session.run` of the
 * same UNet on the pipeline's own feeds, measured alternately in the same process, as `overheadRatio`
 * (pipeline step / bare step; both after a first, untimed run). Also the preparation before the first
 * step, model load time, time to first image and peak RSS. Prints one JSON object.
 *
 *   npm run bench:engine [-- --tiny-only] [-- --steps N] [-- --size PX]
 *
 * Models: the tiny SD 1.x and SDXL fixtures, and (unless --tiny-only) a model with SD 1.5's full-size UNet in
 * fp16, generated on first use (~1.7 GB, ~25 s; not part of CI).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ort, toOrtTensor, type GraphSession, type HostTensor } from '../src/main/engine/backend/ort';
import { loadModel } from '../src/main/engine/Engine';
import {
  benchmarkVariants,
  buildStableDiffusion,
  fixtureVariants,
  isUpToDate,
  type ModelSpec,
} from '../src/main/engine/builder/sdModels';
import { Unet } from '../src/main/engine/components/Unet';
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

type Model = Awaited<ReturnType<typeof loadModel>>;

/**
 * One pipeline run, timed between its step callbacks: the mean of steps 2..N, so the first step (which
 * follows the text encoder and pays for cold caches) and the preparation before it are left out, as the
 * bare UNet's warm-up run is. `prepareMs` is the time before the first callback less the encode and
 * one step. With `capture`, the UNet's own feeds of the last step are copied out for the bare runs.
 */
async function timedRun(model: Model, request: DiffusionRequest, capture = false) {
  const session = model.pipeline.parts.unet.session;
  const run = session.run;
  let feeds: Record<string, HostTensor> = {};
  if (capture) {
    session.run = (f, names) => {
      feeds = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { ...v, data: v.data.slice() }]));
      return run(f, names);
    };
  }
  const marks: number[] = [];
  const t0 = performance.now();
  try {
    const result = await model.pipeline.run(request, { onStep: () => void marks.push(performance.now()) });
    const first = marks[0] as number;
    const last = marks[marks.length - 1] as number;
    const stepMs = (last - first) / Math.max(1, marks.length - 1);
    return { result, stepMs, prepareMs: first - t0 - result.timings.encodeMs - stepMs, feeds };
  } finally {
    session.run = run;
  }
}

/**
 * Bare ORT on the pipeline's own inputs (its last step's feeds, converted once to the graph's dtypes):
 * one warm-up run, as the pipeline's first step is left out, then `steps` runs timed.
 */
async function bareUnetStepMs(unet: GraphSession, hostFeeds: Record<string, HostTensor>, steps: number) {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, spec] of unet.inputs) {
    const feed = hostFeeds[name];
    if (!feed) throw new Error(`The pipeline gave the UNet no ${name}`);
    feeds[name] = toOrtTensor(feed, spec);
  }
  const outputs = [new Unet(unet).outputName];
  await unet.runRaw(feeds, outputs);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await unet.runRaw(feeds, outputs);
  return (performance.now() - t0) / steps;
}

/**
 * The pipeline's step time against bare `session.run` on the same feeds, measured alternately
 * (`rounds` times each, after one untimed pipeline run) so that machine noise hits both alike.
 */
async function compare(model: Model, request: DiffusionRequest, rounds: number) {
  const warm = await timedRun(model, request, true);
  const unet = model.pipeline.parts.unet.session;
  const pipelineSteps: number[] = [];
  const bareSteps: number[] = [];
  const prepare: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const { stepMs, prepareMs } = await timedRun(model, request);
    pipelineSteps.push(stepMs);
    prepare.push(prepareMs);
    bareSteps.push(await bareUnetStepMs(unet, warm.feeds, request.steps));
  }
  const pipelineStepMs = median(pipelineSteps);
  const bare = median(bareSteps);
  return {
    warm: warm.result,
    pipelineStepSeconds: pipelineStepMs / 1000,
    bareUnetStepSeconds: bare / 1000,
    overheadRatio: pipelineStepMs / bare,
    prepareSeconds: median(prepare) / 1000,
  };
}

/** The request every row runs: one prompt, CFG, an ancestral sampler (it draws noise every step). */
function baseRequest(size: number, steps: number): DiffusionRequest {
  return {
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
}

async function benchModel(name: string, dir: string, size: number, steps: number, rounds: number) {
  const t0 = performance.now();
  const model = await loadModel(dir, { providers: ['cpu'] });
  const loadMs = performance.now() - t0;
  const request = baseRequest(size, steps);
  const { warm: first, ...measured } = await compare(model, request, rounds);
  const timeToFirstImageMs = loadMs + first.timings.encodeMs + first.timings.denoiseMs + first.timings.decodeMs;
  await Promise.all(model.sessions.map((s) => s.release()));
  return {
    model: name,
    family: model.probe.family,
    precision: model.probe.precision,
    size,
    steps,
    rounds,
    loadMs: Math.round(loadMs),
    timeToFirstImageMs: Math.round(timeToFirstImageMs),
    ...measured,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

/**
 * Inpainting at `size` (a centred square mask over half the image), by the path the UNet selects:
 * the inpainting UNet's 9-channel input or masked blending; `prepareSeconds` holds the VAE encodes.
 */
async function benchInpaint(name: string, dir: string, size: number, steps: number, rounds: number) {
  const model = await loadModel(dir, { providers: ['cpu'] });
  const image = { width: size, height: size, data: new Uint8Array(size * size * 4).map((_, i) => (i * 7) % 256) };
  const mask = { width: size, height: size, data: new Uint8Array(size * size) };
  for (let y = size / 4; y < (3 * size) / 4; y++) mask.data.fill(255, y * size + size / 4, y * size + (3 * size) / 4);
  const request: DiffusionRequest = {
    ...baseRequest(size, steps),
    mode: 'inpaint',
    init: { image, strength: 1 },
    mask,
  };
  const { warm, ...measured } = await compare(model, request, rounds);
  await Promise.all(model.sessions.map((s) => s.release()));
  return {
    model: name,
    mode: 'inpaint',
    path: warm.info.path,
    size,
    steps,
    rounds,
    ...measured,
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
