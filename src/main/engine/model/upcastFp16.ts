/**
 * Rewrites an fp16 ONNX graph as fp32, in memory: A1111's `--no-half-vae` for ONNX models. fp16 VAEs
 * (SD 1.x/2.x and especially SDXL's) overflow to NaN on some latents; the same weights in fp32 do not.
 *
 * What changes: every float16 initializer (raw, int32_data-packed or external) becomes float32; graph
 * inputs, outputs and value infos typed float16 become float32; `Cast(to=FLOAT16)` and other nodes
 * with a float16 `to`/`dtype` attribute produce float32; float16 tensors inside `Constant` /
 * `ConstantOfShape` values are converted. The result is a self-contained model (no external data).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { float16ArrayToFloat32 } from '../builder/float16';
import { EngineError } from '../EngineError';

// onnx-proto is CommonJS: Node's ESM loader only offers its default export.
const proto = onnxProto.onnx;
const FLOAT = proto.TensorProto.DataType.FLOAT;
const FLOAT16 = proto.TensorProto.DataType.FLOAT16;

/** Reads `file` (an .onnx with optional external data beside it) and returns fp32 model bytes. */
export function upcastFp16Model(file: string): Uint8Array {
  let model: onnx.ModelProto;
  try {
    model = proto.ModelProto.decode(readFileSync(file));
  } catch (err) {
    throw new EngineError(
      'model',
      `Could not read ${file} to upcast it: ${err instanceof Error ? err.message : String(err)}`,
      file,
    );
  }
  const graph = model.graph;
  if (!graph) throw new EngineError('model', `${file} has no graph.`, file);
  const external = new ExternalData(dirname(file));
  for (const tensor of graph.initializer ?? []) upcastTensor(tensor as onnx.TensorProto, external);
  for (const info of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const tensorType = info.type?.tensorType;
    if (tensorType && tensorType.elemType === FLOAT16) tensorType.elemType = FLOAT;
  }
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      if ((attr.name === 'to' || attr.name === 'dtype') && Number(attr.i) === FLOAT16) attr.i = FLOAT;
      if (attr.t) upcastTensor(attr.t as onnx.TensorProto, external);
    }
  }
  return proto.ModelProto.encode(model).finish();
}

/** External weight files, each read once. */
class ExternalData {
  private readonly files = new Map<string, Buffer>();

  constructor(private readonly baseDir: string) {}

  bytes(location: string, offset: number, length: number): Uint8Array {
    let data = this.files.get(location);
    if (!data) {
      data = readFileSync(join(this.baseDir, location));
      this.files.set(location, data);
    }
    if (offset + length > data.length) {
      throw new EngineError(
        'model',
        `${location} is shorter than its model says (truncated download?).`,
        join(this.baseDir, location),
      );
    }
    return data.subarray(offset, offset + length);
  }
}

function upcastTensor(tensor: onnx.TensorProto, external: ExternalData): void {
  if (tensor.dataType !== FLOAT16) return;
  const count = (tensor.dims ?? []).reduce((n, d) => n * Number(d), 1);
  let bits: Uint16Array;
  if (tensor.externalData && tensor.externalData.length > 0) {
    const entry = (key: string): string | undefined =>
      tensor.externalData.find((e) => e.key === key)?.value ?? undefined;
    const location = entry('location');
    if (!location) throw new EngineError('model', `Initializer ${tensor.name} has external data without a location.`);
    const offset = Number(entry('offset') ?? 0);
    bits = new Uint16Array(Uint8Array.from(external.bytes(location, offset, count * 2)).buffer);
    tensor.externalData = [];
    tensor.dataLocation = proto.TensorProto.DataLocation.DEFAULT;
  } else if (tensor.rawData && tensor.rawData.length > 0) {
    bits = new Uint16Array(Uint8Array.from(tensor.rawData).buffer);
  } else {
    // ONNX stores float16 values in int32_data, one value per element, when raw_data is not used.
    bits = Uint16Array.from(tensor.int32Data ?? [], (v) => v & 0xffff);
    tensor.int32Data = [];
  }
  if (bits.length !== count) {
    throw new EngineError('model', `Initializer ${tensor.name} has ${bits.length} values, its shape says ${count}.`);
  }
  const floats = float16ArrayToFloat32(bits);
  tensor.dataType = FLOAT;
  tensor.rawData = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
}
