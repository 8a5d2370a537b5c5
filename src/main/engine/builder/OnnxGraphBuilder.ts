/**
 * A small ONNX graph writer that names things the way `torch.onnx.export` (TorchScript exporter, opset
 * 17, `do_constant_folding=True`) names them, so fixture models look like real diffusers/Optimum exports
 * to anything that inspects them (LoRA merging matches initializer and node names):
 *
 * - nodes are `/<module path>/<OpType>`, with `_1`, `_2`, ... for repeats in the same module; a module
 *   path keeps ModuleList indices on their list (`/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q`);
 *   node outputs are `<node name>_output_<i>`;
 * - a Linear on a rank-3 input is `MatMul` with the weight stored transposed ([in, out]) as an anonymous
 *   initializer `onnx::MatMul_<N>`, then `Add(<module>.bias, ...)`; on a rank-2 input with a bias it is
 *   `Gemm(transB=1)` with the parameter names kept; Conv and norm parameters keep their names;
 * - GroupNorm is torch's opset-17 lowering: Reshape -> InstanceNormalization -> Reshape -> Mul -> Add, with
 *   the affine weight and bias folded to `onnx::Mul_<N>` / `onnx::Add_<N>` of shape [C, 1, 1].
 *
 * Weights are not held in memory: an initializer records how to generate its values (a seeded PRNG per
 * tensor, keyed by model seed and tensor name, so a tensor's values do not depend on build order), and
 * `writeModel` streams them in chunks, either inline (`raw_data`) or into one external data file with
 * `external_data` (location, offset, length) entries. That keeps an SD 1.5-size UNet (3.4 GB fp32) within
 * protobuf's 2 GB message limit and out of the JS heap.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { float32ArrayToFloat16 } from './float16';

// onnx-proto is CommonJS: Node's ESM loader only offers its default export.
const proto = onnxProto.onnx;

export type ElemType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool';
export type FloatType = 'float32' | 'float16';
export type Dim = number | string;

/** How an initializer's values are made. `uniform` draws from U(center - bound, center + bound). */
export type Init =
  | { kind: 'uniform'; bound: number; center?: number }
  | { kind: 'fill'; value: number }
  | { kind: 'values'; data: Float32Array | BigInt64Array | Int32Array };

export type Attr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string }
  | { tensor: { dtype: ElemType; dims: readonly number[]; data: readonly number[] } };

export interface ExternalDataOptions {
  /** File name next to the model, e.g. `weights.pb` (diffusers script) or `model.onnx_data` (Optimum). */
  location: string;
  /** Tensors of at least this many bytes go to the external file (onnx's default is 1024). */
  thresholdBytes: number;
}

export interface WriteResult {
  modelBytes: number;
  externalBytes: number;
  initializers: number;
  parameters: number;
}

interface Initializer {
  name: string;
  /** What the PRNG is keyed on: the parameter's module name, which is stable across export styles. */
  seedKey: string;
  dtype: ElemType;
  dims: number[];
  init: Init;
}

interface ValueInfo {
  name: string;
  dtype: ElemType;
  shape: readonly Dim[] | null;
}

const DATA_TYPE: Record<ElemType, number> = {
  float32: proto.TensorProto.DataType.FLOAT,
  float16: proto.TensorProto.DataType.FLOAT16,
  int32: proto.TensorProto.DataType.INT32,
  int64: proto.TensorProto.DataType.INT64,
  bool: proto.TensorProto.DataType.BOOL,
};

const BYTES: Record<ElemType, number> = { float32: 4, float16: 2, int32: 4, int64: 8, bool: 1 };

/** Rows of values generated and written at a time: bounded memory whatever the tensor size. */
const CHUNK_ELEMENTS = 1 << 22;
/** Large external tensors start on a page boundary so ONNX Runtime can memory-map them. */
const PAGE_ALIGN_BYTES = 4096;
const PAGE_ALIGN_MIN_BYTES = 1 << 20;

/** `down_blocks.0.attentions.0.to_q` -> `/down_blocks.0/attentions.0/to_q` (torch's scope names). */
export function scopeOf(modulePath: string): string {
  if (modulePath === '') return '';
  const parts = modulePath.split('.');
  const scoped: string[] = [];
  for (const part of parts) {
    if (/^\d+$/.test(part) && scoped.length > 0) scoped[scoped.length - 1] += `.${part}`;
    else scoped.push(part);
  }
  return `/${scoped.join('/')}`;
}

/** A tiny deterministic generator (mulberry32); one per tensor, seeded from the model seed and its name. */
export class TensorRng {
  private state: number;

  constructor(seed: number, name: string) {
    const digest = createHash('sha256')
      .update(`${seed >>> 0}:${name}`)
      .digest();
    this.state = digest.readUInt32LE(0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export class OnnxGraphBuilder {
  /** The dtype of float parameters (fp16 models store every float weight in half precision). */
  readonly weightType: FloatType;
  private readonly seed: number;
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly initializerNames = new Set<string>();
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly opCounts = new Map<string, number>();
  /** Mirrors torch's running value numbering, which anonymous initializers (`onnx::MatMul_123`) carry. */
  private valueCounter: number;

  constructor(options: { seed: number; weightType: FloatType; firstValueId?: number }) {
    this.seed = options.seed;
    this.weightType = options.weightType;
    this.valueCounter = options.firstValueId ?? 100;
  }

  get parameterCount(): number {
    return this.initializers.reduce((sum, init) => sum + elementCount(init.dims), 0);
  }

  input(name: string, dtype: ElemType, shape: readonly Dim[]): string {
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string, dtype: ElemType, shape: readonly Dim[] | null): void {
    this.outputs.push({ name, dtype, shape });
  }

  /** A named parameter (`down_blocks.0.resnets.0.conv1.weight`) in the model's weight dtype. */
  param(name: string, dims: readonly number[], init: Init): string {
    return this.addInitializer(name, this.weightType, dims, init);
  }

  /**
   * A parameter torch's constant folding renamed: `onnx::<OpType>_<N>`. Its values are keyed on
   * `seedKey` (the torch parameter name), not on N, so they do not depend on how many nodes came before.
   */
  anonymousParam(
    consumerOp: string,
    dims: readonly number[],
    init: Init,
    options: { seedKey: string; dtype?: ElemType },
  ): string {
    this.valueCounter += 1;
    const name = `onnx::${consumerOp}_${this.valueCounter}`;
    return this.addInitializer(name, options.dtype ?? this.weightType, dims, init, options.seedKey);
  }

  /** An initializer with an explicit dtype (int64 buffers such as `text_model.embeddings.position_ids`). */
  tensor(name: string, dtype: ElemType, dims: readonly number[], init: Init): string {
    return this.addInitializer(name, dtype, dims, init);
  }

  /**
   * Adds a node in `modulePath`'s scope and returns its outputs. Output names follow torch
   * (`<node name>_output_<i>`) unless `outputNames` gives graph output names.
   */
  op(
    modulePath: string,
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    options: { outputs?: number; outputNames?: readonly string[] } = {},
  ): string[] {
    const scope = scopeOf(modulePath);
    const key = `${scope}/${opType}`;
    const count = this.opCounts.get(key) ?? 0;
    this.opCounts.set(key, count + 1);
    const name = count === 0 ? key : `${key}_${count}`;
    const outputCount = options.outputNames?.length ?? options.outputs ?? 1;
    const outputs: string[] = [];
    for (let i = 0; i < outputCount; i++) {
      this.valueCounter += 1;
      outputs.push(options.outputNames?.[i] ?? `${name}_output_${i}`);
    }
    this.nodes.push({
      name,
      opType,
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attrs).map(([attrName, value]) => toAttribute(attrName, value)),
    });
    return outputs;
  }

  /** `op` for single-output nodes. */
  op1(
    modulePath: string,
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    outputName?: string,
  ): string {
    const [out] = this.op(modulePath, opType, inputs, attrs, outputName ? { outputNames: [outputName] } : {});
    return out as string;
  }

  /** A `Constant` node, as torch emits for shapes, axes and scalars. */
  constant(modulePath: string, dtype: ElemType, dims: readonly number[], data: readonly number[]): string {
    return this.op1(modulePath, 'Constant', [], { value: { tensor: { dtype, dims, data } } });
  }

  int64s(modulePath: string, values: readonly number[]): string {
    return this.constant(modulePath, 'int64', [values.length], values);
  }

  scalar(modulePath: string, dtype: ElemType, value: number): string {
    return this.constant(modulePath, dtype, [], [value]);
  }

  // ---- torch module lowerings -------------------------------------------------------------------------

  /**
   * nn.Linear. `rank` is the input's rank: 2 with a bias exports as Gemm (weight [out, in] under its
   * parameter name), anything else as MatMul with the weight transposed to [in, out] as `onnx::MatMul_<N>`
   * plus `Add(<module>.bias, ...)`.
   */
  linear(
    modulePath: string,
    x: string,
    inFeatures: number,
    outFeatures: number,
    options: { bias: boolean; rank: number; gain?: number; outputName?: string },
  ): string {
    const bound = (options.gain ?? 1) * Math.sqrt(3 / inFeatures);
    const biasBound = 0.5 / Math.sqrt(inFeatures);
    if (options.rank === 2 && options.bias) {
      const weight = this.param(`${modulePath}.weight`, [outFeatures, inFeatures], { kind: 'uniform', bound });
      const bias = this.param(`${modulePath}.bias`, [outFeatures], { kind: 'uniform', bound: biasBound });
      return this.op1(
        modulePath,
        'Gemm',
        [x, weight, bias],
        { alpha: { float: 1 }, beta: { float: 1 }, transB: { int: 1 } },
        options.outputName,
      );
    }
    const weight = this.anonymousParam(
      'MatMul',
      [inFeatures, outFeatures],
      { kind: 'uniform', bound },
      {
        seedKey: `${modulePath}.weight`,
      },
    );
    if (!options.bias) return this.op1(modulePath, 'MatMul', [x, weight], {}, options.outputName);
    const product = this.op1(modulePath, 'MatMul', [x, weight]);
    const bias = this.param(`${modulePath}.bias`, [outFeatures], { kind: 'uniform', bound: biasBound });
    return this.op1(modulePath, 'Add', [bias, product], {}, options.outputName);
  }

  /** nn.Conv2d with square kernels; `pads` is the symmetric padding. */
  conv2d(
    modulePath: string,
    x: string,
    inChannels: number,
    outChannels: number,
    options: { kernel: number; stride?: number; pad?: number; gain?: number; outputName?: string; biasInit?: Init },
  ): string {
    const k = options.kernel;
    const stride = options.stride ?? 1;
    const pad = options.pad ?? 0;
    const fanIn = inChannels * k * k;
    const weight = this.param(`${modulePath}.weight`, [outChannels, inChannels, k, k], {
      kind: 'uniform',
      bound: (options.gain ?? 1) * Math.sqrt(3 / fanIn),
    });
    const bias = this.param(
      `${modulePath}.bias`,
      [outChannels],
      options.biasInit ?? { kind: 'uniform', bound: 0.5 / Math.sqrt(fanIn) },
    );
    return this.op1(
      modulePath,
      'Conv',
      [x, weight, bias],
      {
        dilations: { ints: [1, 1] },
        group: { int: 1 },
        kernel_shape: { ints: [k, k] },
        pads: { ints: [pad, pad, pad, pad] },
        strides: { ints: [stride, stride] },
      },
      options.outputName,
    );
  }

  /** nn.GroupNorm on NCHW, lowered as torch does at opset < 18. */
  groupNorm(modulePath: string, x: string, channels: number, groups: number, eps: number): string {
    const dtype = this.weightType;
    const grouped = this.op1(modulePath, 'Reshape', [x, this.int64s(modulePath, [0, groups, -1])]);
    const ones = this.constant(modulePath, dtype, [groups], new Array<number>(groups).fill(1));
    const zeros = this.constant(modulePath, dtype, [groups], new Array<number>(groups).fill(0));
    const normed = this.op1(modulePath, 'InstanceNormalization', [grouped, ones, zeros], { epsilon: { float: eps } });
    const shape = this.op1(modulePath, 'Shape', [x]);
    const restored = this.op1(modulePath, 'Reshape', [normed, shape]);
    const weight = this.anonymousParam(
      'Mul',
      [channels, 1, 1],
      { kind: 'uniform', center: 1, bound: 0.1 },
      { seedKey: `${modulePath}.weight` },
    );
    const scaled = this.op1(modulePath, 'Mul', [restored, weight]);
    const bias = this.anonymousParam(
      'Add',
      [channels, 1, 1],
      { kind: 'uniform', bound: 0.1 },
      {
        seedKey: `${modulePath}.bias`,
      },
    );
    return this.op1(modulePath, 'Add', [scaled, bias]);
  }

  /** nn.LayerNorm over the last axis (opset 17's LayerNormalization), parameters under their names. */
  layerNorm(modulePath: string, x: string, channels: number, eps: number, outputName?: string): string {
    const weight = this.param(`${modulePath}.weight`, [channels], { kind: 'uniform', center: 1, bound: 0.1 });
    const bias = this.param(`${modulePath}.bias`, [channels], { kind: 'uniform', bound: 0.1 });
    return this.op1(
      modulePath,
      'LayerNormalization',
      [x, weight, bias],
      { axis: { int: -1 }, epsilon: { float: eps } },
      outputName,
    );
  }

  /** nn.SiLU as torch exports it before opset 20: x * sigmoid(x). */
  silu(modulePath: string, x: string): string {
    return this.op1(modulePath, 'Mul', [x, this.op1(modulePath, 'Sigmoid', [x])]);
  }

  /** Exact (erf) GELU as torch exports it before opset 20. */
  gelu(modulePath: string, x: string): string {
    const dtype = this.weightType;
    const scaled = this.op1(modulePath, 'Div', [x, this.scalar(modulePath, dtype, Math.SQRT2)]);
    const erf = this.op1(modulePath, 'Erf', [scaled]);
    const onePlus = this.op1(modulePath, 'Add', [erf, this.scalar(modulePath, dtype, 1)]);
    const product = this.op1(modulePath, 'Mul', [x, onePlus]);
    return this.op1(modulePath, 'Mul', [product, this.scalar(modulePath, dtype, 0.5)]);
  }

  /** CLIP's quick_gelu: x * sigmoid(1.702 x). */
  quickGelu(modulePath: string, x: string): string {
    const scaled = this.op1(modulePath, 'Mul', [x, this.scalar(modulePath, this.weightType, 1.702)]);
    return this.op1(modulePath, 'Mul', [x, this.op1(modulePath, 'Sigmoid', [scaled])]);
  }

  // ---- writing ----------------------------------------------------------------------------------------

  /**
   * Writes `modelPath` (and, with `external`, its data file next to it), streaming initializer values.
   * Both files are fsynced. The model proto itself holds only the graph and the small inline tensors.
   */
  async writeModel(
    modelPath: string,
    options: { external?: ExternalDataOptions; docString?: string } = {},
  ): Promise<WriteResult> {
    const external = options.external;
    let dataHandle: FileHandle | null = null;
    let dataOffset = 0;
    const tensors: onnx.ITensorProto[] = [];
    try {
      if (external) {
        if (basename(external.location) !== external.location)
          throw new Error('external data location must be a file name');
        dataHandle = await open(join(dirname(modelPath), external.location), 'w');
      }
      for (const init of this.initializers) {
        const byteLength = elementCount(init.dims) * BYTES[init.dtype];
        const tensor: onnx.ITensorProto = { name: init.name, dataType: DATA_TYPE[init.dtype], dims: init.dims };
        if (dataHandle && external && byteLength >= external.thresholdBytes) {
          if (byteLength >= PAGE_ALIGN_MIN_BYTES && dataOffset % PAGE_ALIGN_BYTES !== 0) {
            const padding = PAGE_ALIGN_BYTES - (dataOffset % PAGE_ALIGN_BYTES);
            await dataHandle.write(new Uint8Array(padding));
            dataOffset += padding;
          }
          const start = dataOffset;
          for (const chunk of this.chunks(init)) {
            await dataHandle.write(chunk);
            dataOffset += chunk.byteLength;
          }
          tensor.dataLocation = proto.TensorProto.DataLocation.EXTERNAL;
          tensor.externalData = [
            { key: 'location', value: external.location },
            { key: 'offset', value: String(start) },
            { key: 'length', value: String(byteLength) },
          ];
        } else {
          const raw = new Uint8Array(byteLength);
          let at = 0;
          for (const chunk of this.chunks(init)) {
            raw.set(chunk, at);
            at += chunk.byteLength;
          }
          tensor.rawData = raw;
        }
        tensors.push(tensor);
      }
      if (dataHandle) await dataHandle.sync();
    } finally {
      await dataHandle?.close();
    }

    const model: onnx.IModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'sumi-studio',
      producerVersion: '1',
      docString: options.docString ?? '',
      graph: {
        name: 'main_graph',
        node: this.nodes,
        initializer: tensors,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
    const bytes = proto.ModelProto.encode(model).finish();
    const handle = await open(modelPath, 'w');
    try {
      await handle.write(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return {
      modelBytes: bytes.byteLength,
      externalBytes: dataOffset,
      initializers: this.initializers.length,
      parameters: this.parameterCount,
    };
  }

  private addInitializer(name: string, dtype: ElemType, dims: readonly number[], init: Init, seedKey = name): string {
    if (this.initializerNames.has(name)) throw new Error(`duplicate initializer ${name}`);
    if (init.kind === 'values' && init.data.length !== elementCount(dims)) {
      throw new Error(`initializer ${name}: ${init.data.length} values for dims [${dims.join(', ')}]`);
    }
    this.initializerNames.add(name);
    this.initializers.push({ name, seedKey, dtype, dims: [...dims], init });
    return name;
  }

  /** The little-endian bytes of an initializer, in chunks of at most CHUNK_ELEMENTS values. */
  private *chunks(init: Initializer): Generator<Uint8Array> {
    const total = elementCount(init.dims);
    const data = init.init.kind === 'values' ? init.init.data : null;
    if (data && !(data instanceof Float32Array)) {
      if (init.dtype === 'int64') {
        const values = data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(v));
        yield new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      } else if (init.dtype === 'int32') {
        const values = data instanceof Int32Array ? data : Int32Array.from(data, (v) => Number(v));
        yield new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      } else {
        throw new Error(`initializer ${init.name}: integer values for a ${init.dtype} tensor`);
      }
      return;
    }
    if (init.dtype !== 'float32' && init.dtype !== 'float16') {
      throw new Error(`initializer ${init.name}: ${init.init.kind} needs a float dtype, not ${init.dtype}`);
    }
    const rng = init.init.kind === 'uniform' ? new TensorRng(this.seed, init.seedKey) : null;
    const buffer = new Float32Array(Math.min(total, CHUNK_ELEMENTS));
    const half = init.dtype === 'float16' ? new Uint16Array(buffer.length) : null;
    for (let start = 0; start < total; start += CHUNK_ELEMENTS) {
      const count = Math.min(CHUNK_ELEMENTS, total - start);
      const view = buffer.subarray(0, count);
      const spec = init.init;
      if (spec.kind === 'values') view.set((spec.data as Float32Array).subarray(start, start + count));
      else if (spec.kind === 'fill') view.fill(spec.value);
      else if (rng) {
        const center = spec.center ?? 0;
        const width = 2 * spec.bound;
        for (let i = 0; i < count; i++) view[i] = center + (rng.next() - 0.5) * width;
      }
      if (half) {
        const converted = float32ArrayToFloat16(view, half.subarray(0, count));
        yield new Uint8Array(converted.buffer, converted.byteOffset, count * 2);
      } else {
        yield new Uint8Array(view.buffer, view.byteOffset, count * 4);
      }
    }
  }
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, d) => product * d, 1);
}

function valueInfo(info: ValueInfo): onnx.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[info.dtype],
        shape:
          info.shape === null
            ? null
            : { dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function toAttribute(name: string, value: Attr): onnx.IAttributeProto {
  const { AttributeType } = proto.AttributeProto;
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: [...value.ints] };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  if ('string' in value) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) };
  const { dtype, dims, data } = value.tensor;
  return {
    name,
    type: AttributeType.TENSOR,
    t: { dataType: DATA_TYPE[dtype], dims: [...dims], rawData: rawBytes(dtype, data) },
  };
}

function rawBytes(dtype: ElemType, data: readonly number[]): Uint8Array {
  switch (dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from(data).buffer);
    case 'float16':
      return new Uint8Array(float32ArrayToFloat16(Float32Array.from(data)).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(data).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(data, (v) => BigInt(v)).buffer);
    case 'bool':
      return Uint8Array.from(data, (v) => (v ? 1 : 0));
  }
}
