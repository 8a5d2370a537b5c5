/**
 * Fixture LoRAs for fixture models: seeded random down (A) and up (B) matrices for real modules of a
 * fixture's UNet or text encoder, written as `.safetensors` in kohya, kohya-with-SGM-names, diffusers or
 * PEFT key formats. The modules are read from the fixture's own graph here (node scopes and initializer
 * shapes), independently of the engine's graph index, and every module's A, B, alpha and initializer are
 * returned so tests can compute the expected merged weights themselves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/main/engine/builder/float16';
import { TensorRng } from '../../src/main/engine/builder/OnnxGraphBuilder';
import { memoryLoraTensors, type LoraTensor, type LoraTensors } from '../../src/main/engine/lora/LoraTensors';
import { readSafetensorsHeader, readTensor } from '../../src/main/services/models/safetensors';
import { writeSafetensors, type TensorSpec } from './safetensorsWriter';

const proto = onnxProto.onnx;

export type FixturePart = 'unet' | 'text_encoder' | 'text_encoder_2';
export type FixtureLoraFormat = 'kohya' | 'kohya-sgm' | 'diffusers' | 'diffusers-processor' | 'peft';

export interface FixtureModule {
  part: FixturePart;
  /** diffusers module path, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  modulePath: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  initializer: string;
  dims: number[];
  /** Stored [in, out] (MatMul) rather than [out, in, ...]. */
  transposed: boolean;
  outFeatures: number;
  /** in, or in x kh x kw for convolutions. */
  rowSize: number;
}

/** The Linear and Conv modules of a fixture part, from its graph's node names and initializers. */
export function fixtureModules(modelDir: string, part: FixturePart): FixtureModule[] {
  const model = proto.ModelProto.decode(readFileSync(join(modelDir, part, 'model.onnx')));
  const inits = new Map(((model.graph?.initializer ?? []) as onnx.TensorProto[]).map((t) => [t.name, t]));
  const modules: FixtureModule[] = [];
  for (const node of model.graph?.node ?? []) {
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm' && node.opType !== 'Conv') continue;
    const weight = inits.get(node.input?.[1] ?? '');
    const scope = /^\/(.+)\/(MatMul|Gemm|Conv)$/.exec(node.name ?? '');
    if (!weight || !scope) continue;
    const dims = (weight.dims ?? []).map(Number);
    const transposed = node.opType === 'MatMul';
    modules.push({
      part,
      modulePath: (scope[1] as string).split('/').join('.'),
      op: node.opType,
      initializer: weight.name,
      dims,
      transposed,
      outFeatures: (transposed ? dims[1] : dims[0]) as number,
      rowSize: transposed ? (dims[0] as number) : dims.slice(1).reduce((a, b) => a * b, 1),
    });
  }
  return modules;
}

export interface FixtureLoraSpec {
  format: FixtureLoraFormat;
  modules: readonly FixtureModule[];
  rank: number;
  /** Written as `.alpha` tensors (or PEFT metadata); null writes none (alpha = rank). */
  alpha: number | null;
  seed: number;
  dtype?: 'F32' | 'F16';
  /** For `kohya-sgm`: the fixture UNet's layers_per_block. */
  layersPerBlock?: number;
  /** For `kohya-sgm`: every module of the UNet, when `modules` is a subset (upsampler names depend on it). */
  allModules?: readonly FixtureModule[];
  /** Extra tensors written as they are (unmatched or unsupported keys). */
  extra?: Record<string, TensorSpec>;
  /** kohya SDXL naming: `lora_te1_` / `lora_te2_` for the two text encoders (else `lora_te_`). */
  sdxl?: boolean;
}

export interface FixtureLoraModule extends FixtureModule {
  downKey: string;
  upKey: string;
  /** As written (rounded to fp16 when the file is F16). */
  down: Float32Array;
  downDims: number[];
  up: Float32Array;
  upDims: number[];
}

export interface FixtureLora {
  file: string;
  modules: FixtureLoraModule[];
  alpha: number | null;
  rank: number;
}

/** Writes a fixture LoRA to `file` and returns what it holds. */
export function writeFixtureLora(file: string, spec: FixtureLoraSpec): FixtureLora {
  const tensors: Record<string, TensorSpec> = {};
  const dtype = spec.dtype ?? 'F32';
  const written: FixtureLoraModule[] = [];
  const upsamplerFollowsAttention = attentionBlocks(spec.allModules ?? spec.modules);
  for (const m of spec.modules) {
    const kernel = m.op === 'Conv' ? m.dims.slice(2) : [];
    const inChannels = m.op === 'Conv' ? (m.dims[1] as number) : m.rowSize;
    const downDims = [spec.rank, inChannels, ...kernel];
    const upDims = [m.outFeatures, spec.rank, ...kernel.map(() => 1)];
    const down = seeded(spec.seed, `${m.part}.${m.modulePath}.down`, spec.rank * m.rowSize, dtype);
    const up = seeded(spec.seed, `${m.part}.${m.modulePath}.up`, m.outFeatures * spec.rank, dtype);
    const names = keyNames(spec.format, m, spec.layersPerBlock ?? 2, upsamplerFollowsAttention, spec.sdxl ?? false);
    tensors[names.down] = { dtype, shape: downDims, data: down };
    tensors[names.up] = { dtype, shape: upDims, data: up };
    if (spec.alpha !== null && names.alpha) tensors[names.alpha] = { dtype, shape: [], data: [spec.alpha] };
    written.push({ ...m, downKey: names.down, upKey: names.up, down, downDims, up, upDims });
  }
  Object.assign(tensors, spec.extra ?? {});
  const metadata: Record<string, string> = {};
  if (spec.format === 'peft' && spec.alpha !== null) {
    const config: Record<string, number> = {};
    for (const part of new Set(spec.modules.map((m) => m.part))) {
      config[`${part}.lora_alpha`] = spec.alpha;
      config[`${part}.r`] = spec.rank;
    }
    metadata.lora_adapter_metadata = JSON.stringify(config);
  }
  writeSafetensors(file, tensors, metadata);
  return { file, modules: written, alpha: spec.alpha, rank: spec.rank };
}

/** A LoRA file as the engine's port, read with the services' strict safetensors reader. */
export async function loadLoraTensors(file: string): Promise<LoraTensors> {
  const header = await readSafetensorsHeader(file);
  const tensors = new Map<string, LoraTensor>();
  for (const info of header.tensors.values()) {
    tensors.set(info.name, { dims: [...info.shape], data: await readTensor(file, header, info.name) });
  }
  return memoryLoraTensors(tensors, { ...header.metadata });
}

/** Uniform values in ±0.5 from a per-tensor seeded generator, rounded to fp16 when the file is F16. */
function seeded(seed: number, name: string, count: number, dtype: 'F32' | 'F16'): Float32Array {
  const rng = new TensorRng(seed, name);
  const values = Float32Array.from({ length: count }, () => rng.next() - 0.5);
  if (dtype === 'F32') return values;
  const half = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float16BitsToFloat32(float32ToFloat16Bits(values[i] as number));
  return half;
}

interface KeyNames {
  down: string;
  up: string;
  alpha: string | null;
}

function keyNames(
  format: FixtureLoraFormat,
  m: FixtureModule,
  layersPerBlock: number,
  attention: ReadonlySet<number>,
  sdxl: boolean,
): KeyNames {
  const kohyaPrefix =
    m.part === 'unet' ? 'lora_unet_' : sdxl ? (m.part === 'text_encoder' ? 'lora_te1_' : 'lora_te2_') : 'lora_te_';
  const flat = (path: string): string => path.replace(/\./g, '_');
  switch (format) {
    case 'kohya':
    case 'kohya-sgm': {
      const name =
        format === 'kohya-sgm' && m.part === 'unet'
          ? toSgm(m.modulePath, layersPerBlock, attention)
          : flat(m.modulePath);
      const base = `${kohyaPrefix}${name}`;
      return { down: `${base}.lora_down.weight`, up: `${base}.lora_up.weight`, alpha: `${base}.alpha` };
    }
    case 'diffusers': {
      const base = `${m.part}.${m.modulePath}`;
      const layer = m.part === 'unet' ? 'lora' : 'lora_linear_layer';
      return { down: `${base}.${layer}.down.weight`, up: `${base}.${layer}.up.weight`, alpha: `${base}.alpha` };
    }
    case 'diffusers-processor': {
      // Old attention-processor LoRAs name only attention projections: `attn1.processor.to_q_lora`.
      const processor = /^(.*\.attn[12])\.(to_q|to_k|to_v|to_out)(\.0)?$/.exec(m.modulePath);
      if (!processor) throw new Error(`${m.modulePath} is not an attention projection`);
      const base = `${m.part}.${processor[1]}.processor.${processor[2]}_lora`;
      return { down: `${base}.down.weight`, up: `${base}.up.weight`, alpha: null };
    }
    case 'peft': {
      const base = `${m.part}.${m.modulePath}`;
      return { down: `${base}.lora_A.weight`, up: `${base}.lora_B.weight`, alpha: null };
    }
  }
}

/** Up blocks that have attentions (their upsampler is output_blocks_N_2 rather than _1). */
function attentionBlocks(modules: readonly FixtureModule[]): Set<number> {
  const out = new Set<number>();
  for (const m of modules) {
    const match = /^up_blocks\.(\d+)\.attentions\./.exec(m.modulePath);
    if (match) out.add(Number(match[1]));
  }
  return out;
}

const RESNET_SGM: Record<string, string> = {
  conv1: 'in_layers_2',
  conv2: 'out_layers_3',
  time_emb_proj: 'emb_layers_1',
  conv_shortcut: 'skip_connection',
};

/** A diffusers UNet module path in SGM/LDM naming, flattened as kohya writes it (the inverse of diffusers' map). */
export function toSgm(path: string, layersPerBlock: number, attention: ReadonlySet<number>): string {
  const group = layersPerBlock + 1;
  const flat = (p: string): string => p.replace(/\./g, '_');
  const fixed: Record<string, string> = {
    conv_in: 'input_blocks_0_0',
    conv_out: 'out_2',
    'time_embedding.linear_1': 'time_embed_0',
    'time_embedding.linear_2': 'time_embed_2',
    'add_embedding.linear_1': 'label_emb_0_0',
    'add_embedding.linear_2': 'label_emb_0_2',
  };
  if (fixed[path]) return fixed[path] as string;
  let m = /^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (m) {
    const index = 1 + Number(m[1]) * group + Number(m[3]);
    return m[2] === 'resnets'
      ? `input_blocks_${index}_0_${RESNET_SGM[m[4] as string]}`
      : `input_blocks_${index}_1_${flat(m[4] as string)}`;
  }
  m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv$/.exec(path);
  if (m) return `input_blocks_${1 + Number(m[1]) * group + layersPerBlock}_0_op`;
  m = /^mid_block\.resnets\.(\d)\.(.+)$/.exec(path);
  if (m) return `middle_block_${2 * Number(m[1])}_${RESNET_SGM[m[2] as string]}`;
  m = /^mid_block\.attentions\.0\.(.+)$/.exec(path);
  if (m) return `middle_block_1_${flat(m[1] as string)}`;
  m = /^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (m) {
    const index = Number(m[1]) * group + Number(m[3]);
    return m[2] === 'resnets'
      ? `output_blocks_${index}_0_${RESNET_SGM[m[4] as string]}`
      : `output_blocks_${index}_1_${flat(m[4] as string)}`;
  }
  m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv$/.exec(path);
  if (m) {
    const block = Number(m[1]);
    return `output_blocks_${block * group + layersPerBlock}_${attention.has(block) ? 2 : 1}_conv`;
  }
  throw new Error(`${path} has no SGM name`);
}
