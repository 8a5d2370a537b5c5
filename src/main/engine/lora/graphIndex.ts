/**
 * Finds, in a decoded ONNX model, the initializer that holds each module's weight, and reads and writes
 * it as float32 whatever its storage (inline raw_data, float_data / int32_data, or external data beside
 * the model file; float32 or float16).
 *
 * torch's exporter names nodes after the module scope (`/down_blocks.0/attentions.0/transformer_blocks.0/
 * attn1/to_q/MatMul`), so the module path is the node name without its op. What the weight looks like
 * depends on how the module was lowered:
 * - Linear on a rank-3 input: `MatMul(x, W)` with W an anonymous `onnx::MatMul_N`, stored transposed [in, out];
 * - Linear on a rank-2 input: `Gemm(x, W, b)`, W [out, in] under its parameter name when transB = 1
 *   ([in, out] when transB = 0);
 * - Conv: W [out, in, kh, kw], usually still named `<path>.weight`.
 * Exporters that wrap the model (`/unet/...`, `/te/text_model/...`) are handled by matching a module path
 * as a suffix of the graph's; nodes without a scoped name fall back to the initializer's parameter name.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../builder/float16';
import { EngineError } from '../EngineError';
import { flatName } from './keyMapping';

// onnx-proto is CommonJS: Node's ESM loader only offers its default export.
const proto = onnxProto.onnx;
const FLOAT = proto.TensorProto.DataType.FLOAT;
const FLOAT16 = proto.TensorProto.DataType.FLOAT16;

export type WeightOp = 'MatMul' | 'Gemm' | 'Conv';

export interface WeightSlot {
  /** diffusers module path as the graph names it (wrapper prefixes included). */
  modulePath: string;
  flat: string;
  op: WeightOp;
  initializer: string;
  dtype: 'float32' | 'float16';
  /** Stored dims. */
  dims: number[];
  outFeatures: number;
  /** Values per output channel: in_features, or in x kh x kw for a convolution. */
  rowSize: number;
  /** True when stored [in, out] (MatMul's B, Gemm with transB = 0). */
  transposed: boolean;
}

/** Model bytes over this cannot be one protobuf message (and ONNX Runtime will not load them from memory). */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;

export interface OpenOptions {
  /** Largest self-contained model `encode` may produce (default: protobuf's 2 GB). */
  maxBytes?: number;
}

/** A patched model for ONNX Runtime: protobuf bytes, plus where its external weights come from. */
export interface ModelSource {
  bytes: Uint8Array;
  /** The model's own folder: unpatched external tensors are read from their files there. */
  externalFolder?: string;
  /** External-data "files" held in memory, by the location the model names (ORT then reads no files). */
  externalFiles?: { path: string; data: Uint8Array }[];
  /**
   * `inline`: every weight inside `bytes`; `folder`: patched weights inline, the rest from the model's
   * files; `memory`: every external weight handed over in `externalFiles`.
   */
  route: 'inline' | 'folder' | 'memory';
}

/** The prefix of the in-memory external-data names `encodeExternal` invents. */
const MEMORY_PREFIX = 'sumi-in-memory';

export class OnnxWeights {
  readonly slots: WeightSlot[];
  private readonly tensors = new Map<string, onnx.TensorProto>();
  private readonly byFlat = new Map<string, WeightSlot>();
  /** Initializers rewritten in memory (`write`, `resize`), now inline. */
  private readonly patched = new Set<string>();

  private constructor(
    readonly file: string,
    readonly model: onnx.ModelProto,
    private readonly maxBytes: number,
  ) {
    const graph = model.graph;
    if (!graph) throw new EngineError('model', `${file} has no graph.`, file);
    for (const t of (graph.initializer ?? []) as onnx.TensorProto[]) this.tensors.set(t.name, t);
    this.slots = this.findSlots(graph as onnx.GraphProto);
    for (const slot of this.slots) if (!this.byFlat.has(slot.flat)) this.byFlat.set(slot.flat, slot);
  }

  /** Decodes `file`; external data is read only for the tensors asked for (or inlined by `encode`). */
  static open(file: string, options: OpenOptions = {}): OnnxWeights {
    const maxBytes = options.maxBytes ?? PROTOBUF_LIMIT_BYTES;
    let model: onnx.ModelProto;
    try {
      model = proto.ModelProto.decode(readFileSync(file));
    } catch (err) {
      throw new EngineError(
        'model',
        `Could not read ${file} to apply LoRAs: ${err instanceof Error ? err.message : String(err)}`,
        file,
      );
    }
    return new OnnxWeights(file, model, maxBytes);
  }

  /** Whether any initializer lives in an external-data file. */
  get hasExternalData(): boolean {
    for (const tensor of this.tensors.values()) if (isExternal(tensor)) return true;
    return false;
  }

  /** Bytes of the initializers rewritten so far. */
  get patchedBytes(): number {
    let total = 0;
    for (const name of this.patched) total += byteLength(this.tensor(name));
    return total;
  }

  /** Refuses, before anything is read or merged, a model whose self-contained form would exceed `maxBytes`. */
  assertInlineFits(): void {
    this.checkSize(this.estimatedInlineBytes());
  }

  /** An initializer's stored dims and dtype. */
  info(name: string): { dims: number[]; dtype: 'float32' | 'float16' | 'other' } {
    const tensor = this.tensor(name);
    const dtype = tensor.dataType === FLOAT ? 'float32' : tensor.dataType === FLOAT16 ? 'float16' : 'other';
    return { dims: (tensor.dims ?? []).map(Number), dtype };
  }

  /** The slot for a module, by exact flattened path, else by a unique suffix (wrapped exports). */
  find(flat: string): WeightSlot | undefined {
    const exact = this.byFlat.get(flat);
    if (exact) return exact;
    const tail = `_${flat}`;
    let found: WeightSlot | undefined;
    for (const slot of this.slots) {
      if (!slot.flat.endsWith(tail)) continue;
      if (found && found.initializer !== slot.initializer) return undefined;
      found = slot;
    }
    return found;
  }

  /** The module path's slot, by the diffusers path (dots). */
  findPath(modulePath: string): WeightSlot | undefined {
    return this.find(flatName(modulePath));
  }

  /** An initializer's values as float32, in stored order. */
  read(name: string): Float32Array {
    const tensor = this.tensor(name);
    const count = elementCount(tensor);
    if (tensor.dataType === FLOAT) {
      const bytes = this.bytesOf(tensor, count * 4);
      if (bytes) return new Float32Array(copy(bytes).buffer);
      return Float32Array.from(tensor.floatData ?? []);
    }
    if (tensor.dataType === FLOAT16) {
      const bytes = this.bytesOf(tensor, count * 2);
      // ONNX keeps float16 values in int32_data, one per element, when raw_data is not used.
      const bits = bytes ? new Uint16Array(copy(bytes).buffer) : Uint16Array.from(tensor.int32Data ?? [], (v) => v);
      const table = halfTable();
      const out = new Float32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] as number] as number;
      return out;
    }
    throw new EngineError('model', `Initializer ${name} of ${this.file} is not float32 or float16.`, this.file);
  }

  /** Replaces an initializer's values (float32, stored order), keeping its dtype; the result is inline. */
  write(name: string, values: Float32Array): void {
    const tensor = this.tensor(name);
    if (values.length !== elementCount(tensor)) {
      throw new EngineError(
        'runtime',
        `Writing ${values.length} values into ${name}, which holds ${elementCount(tensor)}.`,
      );
    }
    const stored = tensor.dataType === FLOAT16 ? float32ArrayToFloat16(values) : Float32Array.from(values);
    setInline(tensor, new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
    this.patched.add(name);
  }

  /**
   * Replaces an initializer with `values` of a new shape (same dtype): how rows are appended to a
   * token-embedding table.
   */
  resize(name: string, dims: readonly number[], values: Float32Array): void {
    const tensor = this.tensor(name);
    if (values.length !== dims.reduce((n, d) => n * d, 1)) {
      throw new EngineError('runtime', `Resizing ${name} to [${dims.join(', ')}] with ${values.length} values.`);
    }
    tensor.dims = [...dims];
    this.write(name, values);
  }

  /** Serialises the model with every external tensor inlined (refused past `maxBytes`). */
  encode(): Uint8Array {
    this.assertInlineFits();
    for (const tensor of this.tensors.values()) {
      if (!isExternal(tensor)) continue;
      setInline(tensor, this.externalBytes(tensor, byteLength(tensor)));
    }
    const bytes = proto.ModelProto.encode(this.model).finish();
    this.checkSize(bytes.byteLength);
    return bytes;
  }

  /**
   * The patched model for ONNX Runtime without inlining the unpatched external weights, which is what
   * lets models over protobuf's 2 GB take LoRAs. `folder`: patched tensors inline, the others read by ORT
   * from the model's own files (nothing of theirs is copied here); it needs the patched tensors to fit in
   * one protobuf. `memory`: every external tensor handed to ORT as in-memory external data
   * (`SessionOptions.externalData`; ORT takes either all external data from memory or none), the
   * unpatched ones read here one tensor at a time. `auto` picks `folder` when it fits, else `memory`.
   * A model without external data is encoded whole (`inline`).
   */
  encodeForRuntime(route: 'auto' | 'folder' | 'memory' = 'auto'): ModelSource {
    if (!this.hasExternalData) return { bytes: this.encode(), route: 'inline' };
    const folder = dirname(this.file);
    const fits = statSync(this.file).size + this.patchedBytes < this.maxBytes;
    if (route === 'folder' || (route === 'auto' && fits)) {
      const bytes = proto.ModelProto.encode(this.model).finish();
      this.checkSize(bytes.byteLength);
      return { bytes, externalFolder: folder, route: 'folder' };
    }
    const files: { path: string; data: Uint8Array }[] = [];
    for (const tensor of this.tensors.values()) {
      const patched = this.patched.has(tensor.name);
      if (!patched && !isExternal(tensor)) continue;
      const data = patched ? tensor.rawData : this.externalBytes(tensor, byteLength(tensor));
      const path = `${MEMORY_PREFIX}/${files.length}.bin`;
      files.push({ path, data });
      tensor.rawData = new Uint8Array(0);
      tensor.dataLocation = proto.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: path },
        { key: 'offset', value: '0' },
        { key: 'length', value: String(data.byteLength) },
      ].map((e) => proto.StringStringEntryProto.create(e));
    }
    return { bytes: proto.ModelProto.encode(this.model).finish(), externalFiles: files, route: 'memory' };
  }

  private checkSize(bytes: number): void {
    if (bytes <= this.maxBytes) return;
    const gb = (n: number): string => (n >= 1e8 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);
    const limit = this.maxBytes === PROTOBUF_LIMIT_BYTES ? "2 GB (protobuf's limit)" : gb(this.maxBytes);
    throw new EngineError(
      'model',
      `LoRAs are merged into a copy of ${this.file} held in memory as one ONNX protobuf, which can be at most ` +
        `${limit}; with its weights inlined this model would be ${gb(bytes)}, so LoRAs cannot be applied to it. ` +
        `Use an fp16 export of this model (an SD 1.x/2.x fp16 UNet is about 1.7 GB), or generate without LoRAs.`,
      this.file,
    );
  }

  private estimatedInlineBytes(): number {
    let total = statSync(this.file).size;
    for (const tensor of this.tensors.values()) if (isExternal(tensor)) total += byteLength(tensor);
    return total;
  }

  private tensor(name: string): onnx.TensorProto {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new EngineError('model', `${this.file} has no initializer ${name}.`, this.file);
    return tensor;
  }

  private bytesOf(tensor: onnx.TensorProto, length: number): Uint8Array | null {
    if (isExternal(tensor)) return this.externalBytes(tensor, length);
    if (tensor.rawData && tensor.rawData.length > 0) {
      if (tensor.rawData.length !== length) {
        throw new EngineError(
          'model',
          `Initializer ${tensor.name} of ${this.file} has ${tensor.rawData.length} bytes; its shape needs ${length}.`,
          this.file,
        );
      }
      return tensor.rawData;
    }
    return null;
  }

  private externalBytes(tensor: onnx.TensorProto, length: number): Uint8Array {
    const entry = (key: string): string | undefined =>
      tensor.externalData.find((e) => e.key === key)?.value ?? undefined;
    const location = entry('location');
    if (!location) {
      throw new EngineError('model', `Initializer ${tensor.name} has external data without a location.`, this.file);
    }
    const offset = Number(entry('offset') ?? 0);
    const stated = entry('length');
    if (stated !== undefined && Number(stated) !== length) {
      throw new EngineError(
        'model',
        `Initializer ${tensor.name} says it has ${stated} bytes of external data; its shape needs ${length}.`,
        this.file,
      );
    }
    const path = join(dirname(this.file), location);
    // One tensor at a time: external-data files can be far larger than a Node buffer (10 GB for SDXL fp32).
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new EngineError(
        'model',
        `Could not read ${path}, the external weights of ${this.file}: ${err instanceof Error ? err.message : String(err)}`,
        path,
      );
    }
    try {
      if (offset + length > fstatSync(fd).size) {
        throw new EngineError('model', `${path} is shorter than its model says (truncated download?).`, path);
      }
      const out = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
        if (n === 0) throw new EngineError('model', `${path} ended while reading ${tensor.name}.`, path);
        done += n;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }

  private findSlots(graph: onnx.GraphProto): WeightSlot[] {
    const slots: WeightSlot[] = [];
    const floatInit = (name: string | undefined): onnx.TensorProto | undefined => {
      const t = name === undefined ? undefined : this.tensors.get(name);
      return t && (t.dataType === FLOAT || t.dataType === FLOAT16) ? t : undefined;
    };
    for (const node of graph.node ?? []) {
      const op = node.opType;
      if (op !== 'MatMul' && op !== 'Gemm' && op !== 'Conv') continue;
      const weight = floatInit(node.input?.[1] ?? undefined);
      if (!weight) continue;
      const dims = (weight.dims ?? []).map(Number);
      let outFeatures: number;
      let rowSize: number;
      let transposed: boolean;
      if (op === 'Conv') {
        if (dims.length < 3) continue;
        outFeatures = dims[0] as number;
        rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
        transposed = false;
        // Grouped convolutions (group > 1) hold in/group channels per filter: not a LoRA target.
        const group = node.attribute?.find((a) => a.name === 'group');
        if (group && Number(group.i) !== 1) continue;
      } else {
        if (dims.length !== 2) continue;
        const transB = op === 'Gemm' && Number(node.attribute?.find((a) => a.name === 'transB')?.i ?? 0) === 1;
        transposed = !transB;
        outFeatures = (transposed ? dims[1] : dims[0]) as number;
        rowSize = (transposed ? dims[0] : dims[1]) as number;
      }
      const modulePath = modulePathOf(node.name ?? '', weight.name);
      if (!modulePath) continue;
      slots.push({
        modulePath,
        flat: flatName(modulePath),
        op,
        initializer: weight.name,
        dtype: weight.dataType === FLOAT16 ? 'float16' : 'float32',
        dims,
        outFeatures,
        rowSize,
        transposed,
      });
    }
    return slots;
  }
}

/**
 * `/down_blocks.0/resnets.0/conv1/Conv` -> `down_blocks.0.resnets.0.conv1`; a node without a scope falls
 * back to its weight's parameter name (`conv_in.weight` -> `conv_in`); anonymous weights give null.
 */
export function modulePathOf(nodeName: string, weightName: string): string | null {
  const scoped = /^\/(.+)\/[A-Za-z]+(_\d+)?$/.exec(nodeName);
  if (scoped) return (scoped[1] as string).split('/').filter(Boolean).join('.');
  if (weightName.endsWith('.weight') && !weightName.includes('::')) return weightName.slice(0, -'.weight'.length);
  return null;
}

function isExternal(tensor: onnx.TensorProto): boolean {
  return (
    tensor.dataLocation === proto.TensorProto.DataLocation.EXTERNAL ||
    (tensor.externalData !== undefined && tensor.externalData.length > 0)
  );
}

function elementCount(tensor: onnx.TensorProto): number {
  return (tensor.dims ?? []).reduce((n: number, d) => n * Number(d), 1);
}

function byteLength(tensor: onnx.TensorProto): number {
  const size: Record<number, number> = {
    1: 4,
    2: 1,
    3: 1,
    4: 2,
    5: 2,
    6: 4,
    7: 8,
    9: 1,
    10: 2,
    11: 8,
    12: 4,
    13: 8,
    16: 2,
  };
  return elementCount(tensor) * (size[tensor.dataType] ?? 1);
}

function setInline(tensor: onnx.TensorProto, bytes: Uint8Array): void {
  tensor.rawData = bytes;
  tensor.externalData = [];
  tensor.dataLocation = proto.TensorProto.DataLocation.DEFAULT;
  tensor.floatData = [];
  tensor.int32Data = [];
}

let halves: Float32Array | null = null;

/** Every float16 bit pattern's float32 value: a lookup is several times faster than converting. */
function halfTable(): Float32Array {
  halves ??= float16ArrayToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i));
  return halves;
}

function copy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}
