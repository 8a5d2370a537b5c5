/**
 * Merges LoRAs into one part of a diffusers-ONNX model (UNet or a text encoder) in memory:
 * W' = W + Σ weight × (alpha / rank) × (up @ down), reshaped for convolutions and transposed for MatMul
 * weights stored [in, out]. fp16 weights are widened to float32, get the sum of every LoRA's delta, and are
 * rounded back once. The result is a self-contained ONNX model (external data inlined) for
 * `openSessionFromBytes`.
 *
 * A LoRA is refused, with the base model it needs, when its shapes say it was trained for another family
 * (UNet cross-attention width 768 SD 1.x, 1024 SD 2.x, 2048 SDXL; text-encoder width 768 / 1024 / 1280), or
 * when a module it patches has a different shape in this model.
 */
import { EngineError } from '../EngineError';
import { openSessionFromBytes, type GraphSession, type SessionOptions } from '../backend/ort';
import { familyFromCrossAttention, type ModelFamily } from '../model/modelFolder';
import { OnnxWeights, type WeightSlot } from './graphIndex';
import { groupLoraModules, type LoraModule, type LoraTarget } from './keyMapping';
import type { LoraTensor, LoraTensors } from './LoraTensors';

export interface LoraInput {
  tensors: LoraTensors;
  /** Strength; 0 leaves the model untouched, negative values subtract. */
  weight: number;
  /** Shown in reports and errors. */
  name: string;
}

export interface MergeOptions {
  /** Which part `modelFile` is; only that part's LoRA modules are applied. */
  part: LoraTarget;
  /** The whole model's family when known (from `probeModel`): refuses LoRAs of another family. */
  family?: ModelFamily;
  /** Largest self-contained model to produce (default: protobuf's 2 GB); for tests. */
  maxBytes?: number;
}

export interface LoraReport {
  name: string;
  weight: number;
  /** Modules of this part merged (at weight 0 they are matched but change nothing). */
  applied: number;
  /** Tensor names not applied: modules this part lacks, and tensors that are not LoRA down/up pairs. */
  unmatched: string[];
  /** Modules that belong to another part (the text encoder's when merging the UNet, and so on). */
  otherParts: number;
}

export interface MergeResult {
  bytes: Uint8Array;
  report: LoraReport[];
}

/**
 * Returns `modelFile` with `loras` merged into its weights, as a self-contained ONNX model. Throws
 * EngineError('input') for a LoRA made for another base model, EngineError('model') when the result would
 * exceed protobuf's 2 GB limit.
 */
export function mergeLoras(modelFile: string, loras: readonly LoraInput[], options: MergeOptions): MergeResult {
  const weights = OnnxWeights.open(modelFile, { maxBytes: options.maxBytes });
  weights.assertInlineFits();
  const report = applyLoras(weights, loras, options);
  return { bytes: weights.encode(), report };
}

/**
 * Merges `loras` into the weights of one decoded part (in place): every LoRA's delta is summed per
 * weight in float32 and written back once. Weights no LoRA changes (all at weight 0) are left as they
 * are. Throws EngineError('input') for a LoRA of another family or a module of another shape.
 */
export function applyLoras(weights: OnnxWeights, loras: readonly LoraInput[], options: MergeOptions): LoraReport[] {
  const layersPerBlock = inferLayersPerBlock(weights);
  const modelShape = modelSignature(weights, options.part);
  const accumulators = new Map<string, { slot: WeightSlot; delta: Float32Array }>();
  const report: LoraReport[] = [];

  for (const lora of loras) {
    const { modules, unsupported } = groupLoraModules(lora.tensors, { layersPerBlock });
    checkFamily(lora, modules, modelShape, options);
    const entry: LoraReport = {
      name: lora.name,
      weight: lora.weight,
      applied: 0,
      unmatched: [...unsupported],
      otherParts: 0,
    };
    report.push(entry);
    for (const module of modules) {
      if (module.target !== options.part) {
        entry.otherParts += 1;
        continue;
      }
      const slot = weights.find(module.flat);
      if (!slot) {
        entry.unmatched.push(module.downKey, module.upKey);
        continue;
      }
      const down = lora.tensors.get(module.downKey);
      const up = lora.tensors.get(module.upKey);
      checkShapes(lora, module, slot, down, up);
      entry.applied += 1;
      if (lora.weight === 0) continue;
      let acc = accumulators.get(slot.initializer);
      if (!acc) {
        acc = { slot, delta: new Float32Array(slot.outFeatures * slot.rowSize) };
        accumulators.set(slot.initializer, acc);
      }
      const rank = down.dims[0] as number;
      const scale = lora.weight * ((module.alpha ?? rank) / rank);
      addDelta(acc.delta, slot, up, down, scale);
    }
  }

  for (const { slot, delta } of accumulators.values()) {
    const values = weights.read(slot.initializer);
    for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) + (delta[i] as number);
    weights.write(slot.initializer, values);
  }
  return report;
}

/** `mergeLoras` then `openSessionFromBytes`. */
export async function openSessionWithLoras(
  modelFile: string,
  loras: readonly LoraInput[],
  options: MergeOptions,
  sessionOptions: SessionOptions,
): Promise<{ session: GraphSession; report: LoraReport[] }> {
  const { bytes, report } = mergeLoras(modelFile, loras, options);
  const label = `${modelFile} (with LoRAs ${loras.map((l) => `${l.name}:${l.weight}`).join(', ')})`;
  return { session: await openSessionFromBytes(bytes, label, sessionOptions), report };
}

/**
 * delta[o, :] += scale × Σ_r up[o, r] × down[r, :], written in the slot's stored layout
 * ([out, rowSize], or [rowSize, out] for transposed MatMul weights). Four ranks are summed per pass over
 * a row, so each delta value is loaded and stored a quarter as often (the loop is memory-bound).
 */
function addDelta(delta: Float32Array, slot: WeightSlot, up: LoraTensor, down: LoraTensor, scale: number): void {
  const rank = down.dims[0] as number;
  const rest = slot.rowSize;
  const out = slot.outFeatures;
  // Both layouts are rows of `width` values, each a combination of `rank` rows of `basis` with
  // per-row coefficients `coeff[row * rank + r]`.
  let basis: Float32Array;
  let coeff: Float32Array;
  let rows: number;
  let width: number;
  if (slot.transposed) {
    // Stored [in, out]: row i = Σ_r down[r, i] × (scale × up[:, r]).
    rows = rest;
    width = out;
    basis = new Float32Array(rank * out);
    for (let o = 0; o < out; o++)
      for (let r = 0; r < rank; r++) basis[r * out + o] = scale * (up.data[o * rank + r] as number);
    coeff = new Float32Array(rest * rank);
    for (let r = 0; r < rank; r++)
      for (let i = 0; i < rest; i++) coeff[i * rank + r] = down.data[r * rest + i] as number;
  } else {
    // Stored [out, in...]: row o = Σ_r (scale × up[o, r]) × down[r, :].
    rows = out;
    width = rest;
    basis = down.data;
    coeff = new Float32Array(out * rank);
    for (let i = 0; i < coeff.length; i++) coeff[i] = scale * (up.data[i] as number);
  }
  for (let row = 0; row < rows; row++) {
    const at = row * width;
    const c = row * rank;
    let r = 0;
    for (; r + 4 <= rank; r += 4) {
      const k0 = coeff[c + r] as number;
      const k1 = coeff[c + r + 1] as number;
      const k2 = coeff[c + r + 2] as number;
      const k3 = coeff[c + r + 3] as number;
      const b0 = r * width;
      const b1 = b0 + width;
      const b2 = b1 + width;
      const b3 = b2 + width;
      for (let i = 0; i < width; i++) {
        delta[at + i] =
          (delta[at + i] as number) +
          k0 * (basis[b0 + i] as number) +
          k1 * (basis[b1 + i] as number) +
          k2 * (basis[b2 + i] as number) +
          k3 * (basis[b3 + i] as number);
      }
    }
    for (; r < rank; r++) {
      const k = coeff[c + r] as number;
      const b = r * width;
      for (let i = 0; i < width; i++) delta[at + i] = (delta[at + i] as number) + k * (basis[b + i] as number);
    }
  }
}

function checkShapes(lora: LoraInput, module: LoraModule, slot: WeightSlot, down: LoraTensor, up: LoraTensor): void {
  const rank = down.dims[0] ?? 0;
  const downRest = rank > 0 ? down.data.length / rank : 0;
  const upOut = up.dims[0] ?? 0;
  const upRank = upOut > 0 ? up.data.length / upOut : 0;
  const fits = rank > 0 && upRank === rank && upOut === slot.outFeatures && downRest === slot.rowSize;
  if (fits) return;
  throw new EngineError(
    'input',
    `LoRA "${lora.name}" does not fit this model: it patches ${module.modulePath} with up [${up.dims.join(', ')}] x ` +
      `down [${down.dims.join(', ')}], but the model's weight there is ${slot.outFeatures} outputs x ${slot.rowSize} ` +
      `inputs (${slot.initializer} [${slot.dims.join(', ')}]). It was made for a different base model.`,
  );
}

interface ShapeSignature {
  /** UNet cross-attention input width (attn2.to_k). */
  crossAttentionDim?: number;
  /** Text encoder (or SDXL's first) hidden width (self_attn.q_proj input). */
  textWidth?: number;
  /** SDXL's second text encoder width. */
  text2Width?: number;
}

function modelSignature(weights: OnnxWeights, part: LoraTarget): ShapeSignature {
  if (part === 'unet') {
    const slot = weights.slots.find((s) => /attn2[._]to_k$/.test(s.modulePath));
    return slot ? { crossAttentionDim: slot.rowSize } : {};
  }
  const slot = weights.slots.find((s) => /self_attn[._]q_proj$/.test(s.modulePath));
  if (!slot) return {};
  return part === 'text_encoder' ? { textWidth: slot.rowSize } : { text2Width: slot.rowSize };
}

function loraSignature(lora: LoraInput, modules: readonly LoraModule[]): ShapeSignature {
  const sig: ShapeSignature = {};
  const inWidth = (m: LoraModule): number | undefined => lora.tensors.get(m.downKey).dims[1];
  for (const m of modules) {
    if (m.target === 'unet' && sig.crossAttentionDim === undefined && /attn2\.to_[kv]$/.test(m.modulePath)) {
      sig.crossAttentionDim = inWidth(m);
    } else if (m.target !== 'unet' && /self_attn\.[qkv]_proj$/.test(m.modulePath)) {
      if (m.target === 'text_encoder' && sig.textWidth === undefined) sig.textWidth = inWidth(m);
      if (m.target === 'text_encoder_2' && sig.text2Width === undefined) sig.text2Width = inWidth(m);
    }
  }
  if (sig.text2Width === undefined && modules.some((m) => m.target === 'text_encoder_2')) sig.text2Width = 0;
  return sig;
}

const FAMILY_NAMES: Record<ModelFamily, string> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  'sdxl-refiner': 'the SDXL refiner',
  unknown: 'an unknown model family',
};

/** The family a LoRA's shapes say it was trained for, or null when they do not say. */
function loraFamily(sig: ShapeSignature): ModelFamily | null {
  if (sig.text2Width !== undefined || sig.crossAttentionDim === 2048) return 'sdxl';
  if (sig.crossAttentionDim === 1280) return 'sdxl-refiner';
  if (sig.crossAttentionDim === 768) return 'sd1';
  if (sig.crossAttentionDim === 1024) return 'sd2';
  if (sig.textWidth === 768) return 'sd1';
  if (sig.textWidth === 1024) return 'sd2';
  return null;
}

function useWith(family: ModelFamily): string {
  return family === 'sdxl-refiner' ? 'Use it with the SDXL refiner.' : `Use it with an ${FAMILY_NAMES[family]} model.`;
}

function checkFamily(
  lora: LoraInput,
  modules: readonly LoraModule[],
  model: ShapeSignature,
  options: MergeOptions,
): void {
  const sig = loraSignature(lora, modules);
  const needs = loraFamily(sig);
  const refuse = (what: string, loraWidth: number, modelText: string): never => {
    const trained = needs
      ? `was trained for ${FAMILY_NAMES[needs]} (${what} ${loraWidth})`
      : `has ${what} ${loraWidth}`;
    const advice = needs ? ` ${useWith(needs)}` : '';
    throw new EngineError('input', `LoRA "${lora.name}" ${trained}, but ${modelText}.${advice}`);
  };
  if (
    options.part === 'unet' &&
    sig.crossAttentionDim !== undefined &&
    model.crossAttentionDim !== undefined &&
    sig.crossAttentionDim !== model.crossAttentionDim
  ) {
    const family = familyFromCrossAttention(model.crossAttentionDim);
    const name = family === 'unknown' ? 'this model' : `this model is ${FAMILY_NAMES[family]}`;
    refuse(
      'cross-attention width',
      sig.crossAttentionDim,
      `${name} (cross-attention width ${model.crossAttentionDim})`,
    );
  }
  const textPairs: [number | undefined, number | undefined][] = [
    [options.part === 'text_encoder' ? sig.textWidth : undefined, model.textWidth],
    [options.part === 'text_encoder_2' ? sig.text2Width : undefined, model.text2Width],
  ];
  for (const [loraWidth, modelWidth] of textPairs) {
    if (loraWidth !== undefined && loraWidth > 0 && modelWidth !== undefined && loraWidth !== modelWidth) {
      const family = options.family && options.family !== 'unknown' ? ` (${FAMILY_NAMES[options.family]})` : '';
      refuse('text-encoder width', loraWidth, `this model's text encoder${family} is ${modelWidth} wide`);
    }
  }
  if (needs && options.family && options.family !== 'unknown' && needs !== options.family) {
    throw new EngineError(
      'input',
      `LoRA "${lora.name}" was trained for ${FAMILY_NAMES[needs]}, but this model is ${FAMILY_NAMES[options.family]}. ` +
        useWith(needs),
    );
  }
}

/** `layers_per_block` from the UNet's first down block (SGM names need it); 2 when the graph does not say. */
function inferLayersPerBlock(weights: OnnxWeights): number {
  let most = -1;
  for (const slot of weights.slots) {
    const m = /(?:^|\.)down_blocks\.0\.resnets\.(\d+)\./.exec(slot.modulePath);
    if (m) most = Math.max(most, Number(m[1]));
  }
  return most >= 0 ? most + 1 : 2;
}
