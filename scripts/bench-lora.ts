/**
 * LoRA merge benchmark on the SD 1.5-size fixture UNet (fp16, `weights.pb`), used by `bench:models`:
 * a seeded rank-`rank` LoRA over every attention projection (to_q/k/v/out of attn1 and attn2), merged
 * through each route patched weights take to ORT, then the engine's cost of switching only one part's
 * weight. The model is built on first use the way `bench:engine` builds it.
 */
import { join, resolve } from 'node:path';
import { Engine, type LoraSpec } from '../src/main/engine/Engine';
import { benchmarkVariants, buildStableDiffusion, isUpToDate } from '../src/main/engine/builder/sdModels';
import { OnnxWeights } from '../src/main/engine/lora/graphIndex';
import type { LoraTensor } from '../src/main/engine/lora/LoraTensors';
import { memoryLoraTensors } from '../src/main/engine/lora/LoraTensors';
import { openPatchedSession, patchModel } from '../src/main/engine/lora/patchModel';

const repoRoot = resolve(import.meta.dirname, '..');

async function benchModel(): Promise<string> {
  const dir = join(repoRoot, 'tests/fixtures/generated', 'sd15-full-unet');
  const spec = benchmarkVariants['sd15-full-unet'];
  const options = { clipVocabDir: resolve(repoRoot, '../shared/data/clip'), replace: true };
  if (!(await isUpToDate(dir, spec, options))) await buildStableDiffusion(dir, spec, options);
  return dir;
}

/** Uniform values in ±0.05 from a small LCG: fast enough for hundreds of millions of values. */
function seeded(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

function timedMs(started: number): number {
  return Math.round(performance.now() - started);
}

export async function benchLoraMerge({ rank }: { rank: number }): Promise<Record<string, unknown>> {
  const dir = await benchModel();
  const file = join(dir, 'unet', 'model.onnx');
  const slots = OnnxWeights.open(file).slots.filter((s) => /attn[12][._]to_(q|k|v|out[._]0)$/.test(s.modulePath));
  const tensors: Record<string, LoraTensor> = {};
  let touched = 0;
  slots.forEach((slot, i) => {
    const key = `lora_unet_${slot.flat}`;
    tensors[`${key}.lora_down.weight`] = { dims: [rank, slot.rowSize], data: seeded(rank * slot.rowSize, 2 * i + 1) };
    tensors[`${key}.lora_up.weight`] = {
      dims: [slot.outFeatures, rank],
      data: seeded(slot.outFeatures * rank, 2 * i + 2),
    };
    tensors[`${key}.alpha`] = { dims: [], data: Float32Array.of(rank / 2) };
    touched += slot.outFeatures * slot.rowSize;
  });
  const lora = { tensors: memoryLoraTensors(tensors), weight: 0.8, name: 'bench' };
  const providers = ['cpu'] as const;

  const routes: Record<string, { mergeMs: number; openMs: number; patchedMB: number }> = {};
  for (const route of ['folder', 'memory'] as const) {
    const started = performance.now();
    const patched = patchModel(file, [lora], { part: 'unet', route });
    const mergeMs = timedMs(started);
    const opened = performance.now();
    const session = await openPatchedSession(file, patched, { providers });
    const openMs = timedMs(opened);
    await session.release();
    const files = patched.source?.externalFiles ?? [];
    const bytes = patched.source?.route === 'memory' ? files.reduce((n, f) => n + f.data.byteLength, 0) : 0;
    routes[route] = {
      mergeMs,
      openMs,
      patchedMB: Math.round((bytes || (patched.source?.bytes.byteLength ?? 0)) / 1e6),
    };
  }

  // The engine: load with the LoRA, then change only the UNet weight, then only the text encoder's.
  const engine = new Engine({ providers });
  const spec: LoraSpec = { id: 'bench', name: 'bench', weight: 0.8, tensors, metadata: {} };
  let started = performance.now();
  await engine.load(dir, [spec]);
  const firstLoadMs = timedMs(started);
  let builds = engine.parts.builds;
  started = performance.now();
  await engine.load(dir, [{ ...spec, unetWeight: 0.4 }]);
  const unetSwitch = { ms: timedMs(started), partsRebuilt: engine.parts.builds - builds };
  builds = engine.parts.builds;
  started = performance.now();
  await engine.load(dir, [{ ...spec, teWeight: 0.5, unetWeight: 0.4 }]);
  const teSwitch = { ms: timedMs(started), partsRebuilt: engine.parts.builds - builds };
  await engine.unload();

  return {
    model: 'SD 1.5-size UNet (fp16, weights.pb)',
    rank,
    modules: slots.length,
    weightsTouchedM: Number((touched / 1e6).toFixed(1)),
    routes,
    engine: { firstLoadMs, switchUnetWeight: unetSwitch, switchTextEncoderWeight: teSwitch },
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
