/**
 * Fixture textual-inversion embeddings: seeded random vectors written as `.safetensors` in A1111
 * (`emb_params`), converted-`.pt` (`string_to_param.*`), diffusers (one tensor named after its token) or
 * SDXL (`clip_l` + `clip_g`) layout, returned with the vectors as written. Token-table widths are read
 * from a fixture's own graph here, independently of the engine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/main/engine/builder/float16';
import { TensorRng } from '../../src/main/engine/builder/OnnxGraphBuilder';
import { writeSafetensors, type TensorSpec } from './safetensorsWriter';

const proto = onnxProto.onnx;

export type FixtureEmbeddingFormat = 'a1111' | 'string-to-param' | 'diffusers' | 'sdxl';

export interface FixtureEmbeddingSpec {
  format: FixtureEmbeddingFormat;
  /** Vectors the name stands for. */
  count: number;
  /** Width of the (first) text encoder's token embeddings. */
  width: number;
  /** SDXL: the second encoder's width. */
  width2?: number;
  seed: number;
  dtype?: 'F32' | 'F16';
}

export interface FixtureEmbedding {
  file: string;
  /** [count, width] row-major, as written (rounded when F16). */
  vectors: Float32Array;
  vectors2?: Float32Array;
  count: number;
}

export function writeFixtureEmbedding(file: string, spec: FixtureEmbeddingSpec): FixtureEmbedding {
  const dtype = spec.dtype ?? 'F32';
  const vectors = seeded(spec.seed, 'clip_l', spec.count * spec.width, dtype);
  const tensors: Record<string, TensorSpec> = {};
  const shape = [spec.count, spec.width];
  let vectors2: Float32Array | undefined;
  switch (spec.format) {
    case 'a1111':
      tensors.emb_params = { dtype, shape, data: vectors };
      break;
    case 'string-to-param':
      tensors['string_to_param.*'] = { dtype, shape, data: vectors };
      break;
    case 'diffusers':
      tensors['<fixture-token>'] = { dtype, shape: spec.count === 1 ? [spec.width] : shape, data: vectors };
      break;
    case 'sdxl': {
      const width2 = spec.width2 ?? spec.width;
      vectors2 = seeded(spec.seed, 'clip_g', spec.count * width2, dtype);
      tensors.clip_l = { dtype, shape, data: vectors };
      tensors.clip_g = { dtype, shape: [spec.count, width2], data: vectors2 };
      break;
    }
  }
  writeSafetensors(file, tensors);
  return { file, vectors, ...(vectors2 ? { vectors2 } : {}), count: spec.count };
}

/** The token-embedding table of a fixture text encoder: its initializer name, rows and width. */
export function fixtureTokenTable(
  modelDir: string,
  part: 'text_encoder' | 'text_encoder_2' = 'text_encoder',
): { name: string; rows: number; width: number } {
  const model = proto.ModelProto.decode(readFileSync(join(modelDir, part, 'model.onnx')));
  const table = ((model.graph?.initializer ?? []) as onnx.TensorProto[]).find((t) =>
    t.name.endsWith('token_embedding.weight'),
  );
  if (!table) throw new Error(`${modelDir}/${part} has no token_embedding.weight`);
  const dims = (table.dims ?? []).map(Number);
  return { name: table.name, rows: dims[0] as number, width: dims[1] as number };
}

function seeded(seed: number, name: string, count: number, dtype: 'F32' | 'F16'): Float32Array {
  const rng = new TensorRng(seed, name);
  const values = Float32Array.from({ length: count }, () => 2 * (rng.next() - 0.5));
  if (dtype === 'F32') return values;
  return values.map((v) => float16BitsToFloat32(float32ToFloat16Bits(v)));
}
