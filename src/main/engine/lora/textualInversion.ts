/**
 * Textual-inversion embeddings, added to a text encoder the way LoRAs are merged: in memory, before the
 * session opens. Each embedding's vectors become new rows at the end of the encoder's token-embedding
 * table (the initializer a `Gather` of `input_ids` reads), and the tokenizer makes the embedding's name
 * stand for those new ids. Feeding the new ids then gives exactly what A1111 gets by swapping the vectors
 * in after the embedding layer.
 *
 * One graph fix comes with it: exports of transformers' CLIPTextModel before `eos_token_id` was used pick
 * the pooled output at `argmax(input_ids)`, the end-of-text token only while it has the highest id. Ids
 * past the vocabulary would win, so the argmax is made to see them as 0 (SDXL's second encoder feeds the
 * pooled output to the UNet).
 */
import onnxProto, { type onnx } from 'onnx-proto';
import type { ClipTokenizer } from '../components/ClipTokenizer';
import { EngineError } from '../EngineError';
import type { ModelFamily } from '../model/modelFolder';
import type { OnnxWeights } from './graphIndex';
import type { LoraTensor } from './LoraTensors';

const proto = onnxProto.onnx;

export type EmbeddingTarget = 'text_encoder' | 'text_encoder_2';

/** An embedding as the engine receives it: vectors already read (and checked) by main. */
export interface EmbeddingSpec {
  /** Identifies the file's content (its hash): part of the text encoder's cache key. */
  id: string;
  /** The word that stands for it in prompts: the file name without `.safetensors`. */
  name: string;
  /** Vectors [n, width] per text encoder: `text_encoder` for SD 1.x/2.x, both for SDXL (`clip_l`, `clip_g`). */
  vectors: Partial<Record<EmbeddingTarget, LoraTensor>>;
}

export interface TokenTable {
  initializer: string;
  rows: number;
  width: number;
}

/**
 * The text encoder's token-embedding table: by torch-export name (`…token_embedding.weight`), else the
 * rank-2 float initializer a `Gather` reads with `input_ids` (possibly through a `Cast`) as indices.
 */
export function findTokenEmbedding(weights: OnnxWeights): TokenTable | null {
  const graph = weights.model.graph;
  const gathers = (graph?.node ?? []).filter((n) => n.opType === 'Gather');
  const table = (name: string | undefined | null): TokenTable | null => {
    if (!name) return null;
    let info;
    try {
      info = weights.info(name);
    } catch {
      return null;
    }
    if (info.dtype === 'other' || info.dims.length !== 2) return null;
    return { initializer: name, rows: info.dims[0] as number, width: info.dims[1] as number };
  };
  for (const node of gathers) {
    const data = node.input?.[0];
    if (data && /(^|[./])token_embedding\.weight$/.test(data)) {
      const found = table(data);
      if (found) return found;
    }
  }
  const fromInputIds = new Set(['input_ids']);
  for (const node of graph?.node ?? []) {
    if (node.opType === 'Cast' && fromInputIds.has(node.input?.[0] ?? '')) {
      for (const out of node.output ?? []) fromInputIds.add(out);
    }
  }
  for (const node of gathers) {
    if (!fromInputIds.has(node.input?.[1] ?? '')) continue;
    const found = table(node.input?.[0]);
    if (found) return found;
  }
  return null;
}

const FAMILY_NAMES: Partial<Record<ModelFamily, string>> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  'sdxl-refiner': 'SDXL refiner',
};

/** What an embedding's vectors say it was trained for: `SD 2.x (1024)`, `SDXL (768 + 1280)`. */
export function describeEmbedding(vectors: EmbeddingSpec['vectors']): { family: ModelFamily; text: string } {
  const w1 = vectors.text_encoder?.dims[1];
  const w2 = vectors.text_encoder_2?.dims[1];
  if (w2 !== undefined) {
    const family: ModelFamily = w1 === undefined ? 'sdxl-refiner' : 'sdxl';
    const widths = w1 === undefined ? `${w2}` : `${w1} + ${w2}`;
    return { family, text: `an ${FAMILY_NAMES[family]} embedding (${widths})` };
  }
  const family: ModelFamily = w1 === 768 ? 'sd1' : w1 === 1024 ? 'sd2' : 'unknown';
  const name = FAMILY_NAMES[family];
  return { family, text: name ? `an ${name} embedding (${w1})` : `an embedding ${w1} wide` };
}

/** `an SD 1.x model (768)`, or the widths alone when the family is not known. */
export function describeModelWidths(family: ModelFamily | undefined, widths: readonly number[]): string {
  const name = family ? FAMILY_NAMES[family] : undefined;
  return name ? `an ${name} model (${widths.join(' + ')})` : `a model whose text encoder is ${widths.join(' + ')} wide`;
}

/** The refusal for an embedding whose vectors do not fit the model's text encoder(s). */
export function embeddingMismatchMessage(
  spec: Pick<EmbeddingSpec, 'name' | 'vectors'>,
  modelFamily: ModelFamily | undefined,
  modelWidths: readonly number[],
): string {
  const embedding = describeEmbedding(spec.vectors);
  const advice = FAMILY_NAMES[embedding.family] ? ` Use it with an ${FAMILY_NAMES[embedding.family]} model.` : '';
  return (
    `Embedding "${spec.name}" is ${embedding.text}, but this is ${describeModelWidths(modelFamily, modelWidths)}: ` +
    `its vectors do not fit the text encoder's token embeddings.${advice}`
  );
}

export interface AppendedEmbeddings {
  table: TokenTable;
  /** Token ids given to each embedding's vectors, by embedding name, in order. */
  ids: Map<string, number[]>;
}

/**
 * Appends each embedding's vectors for `target` to the token-embedding table of `weights` (ids from the
 * table's old row count on, in the order given) and guards the pooled output's argmax. Throws
 * EngineError('input') for an embedding without vectors for this encoder or of another width.
 */
export function appendEmbeddings(
  weights: OnnxWeights,
  embeddings: readonly EmbeddingSpec[],
  target: EmbeddingTarget,
  context: { family?: ModelFamily; modelWidths?: readonly number[]; eosId?: number } = {},
): AppendedEmbeddings | null {
  if (embeddings.length === 0) return null;
  const table = findTokenEmbedding(weights);
  if (!table) {
    throw new EngineError(
      'model',
      `Embeddings cannot be added to ${weights.file}: it has no token-embedding table (no ` +
        `text_model.embeddings.token_embedding.weight, and no Gather of input_ids reads a [vocabulary, width] weight).`,
      weights.file,
    );
  }
  const widths = context.modelWidths ?? [table.width];
  const rows: Float32Array[] = [];
  const ids = new Map<string, number[]>();
  let next = table.rows;
  for (const spec of embeddings) {
    const vectors = spec.vectors[target];
    const width = vectors?.dims[vectors.dims.length - 1];
    if (!vectors || width !== table.width) {
      throw new EngineError('input', embeddingMismatchMessage(spec, context.family, widths));
    }
    const count = vectors.data.length / table.width;
    if (!Number.isInteger(count) || count < 1) {
      throw new EngineError('input', `Embedding "${spec.name}" has no whole vectors of width ${table.width}.`);
    }
    rows.push(vectors.data);
    ids.set(
      spec.name,
      Array.from({ length: count }, (_, i) => next + i),
    );
    next += count;
  }
  const old = weights.read(table.initializer);
  const values = new Float32Array(next * table.width);
  values.set(old);
  let at = old.length;
  for (const r of rows) {
    values.set(r, at);
    at += r.length;
  }
  weights.resize(table.initializer, [next, table.width], values);
  guardPooledArgmax(weights, context.eosId ?? table.rows - 1);
  return { table: { ...table, rows: next }, ids };
}

/** Makes `name` stand for its appended rows in `tokenizer` (and in a second encoder's tokenizer for SDXL). */
export function registerEmbeddings(tokenizer: ClipTokenizer, appended: AppendedEmbeddings | null): void {
  if (!appended) return;
  for (const [name, ids] of appended.ids) tokenizer.addEmbedding(name, ids);
}

/**
 * Rewrites every `ArgMax` that reads `input_ids` (directly or through `Cast`s) to read
 * `Where(ids > eosId, 0, ids)`, so ids past the vocabulary never win the pooled output's argmax.
 */
export function guardPooledArgmax(weights: OnnxWeights, eosId: number): number {
  const graph = weights.model.graph;
  if (!graph) return 0;
  const nodes = graph.node ?? [];
  const inputType = (graph.input ?? []).find((i) => i.name === 'input_ids')?.type?.tensorType?.elemType;
  const types = new Map<string, number>();
  if (inputType !== undefined && inputType !== null) types.set('input_ids', inputType);
  for (const node of nodes) {
    if (node.opType !== 'Cast' || !types.has(node.input?.[0] ?? '')) continue;
    const to = Number(node.attribute?.find((a) => a.name === 'to')?.i ?? 0);
    for (const out of node.output ?? []) types.set(out, to);
  }
  const INT32 = proto.TensorProto.DataType.INT32;
  const INT64 = proto.TensorProto.DataType.INT64;
  let guarded = 0;
  const added: onnx.INodeProto[] = [];
  for (const node of nodes) {
    const source = node.input?.[0];
    const type = source === undefined || source === null ? undefined : types.get(source);
    if (node.opType !== 'ArgMax' || (type !== INT32 && type !== INT64)) continue;
    const tag = `sumi_eos_guard_${guarded++}`;
    const scalar = (name: string, value: number): onnx.TensorProto =>
      proto.TensorProto.create({
        name,
        dataType: type,
        dims: [],
        ...(type === INT32 ? { int32Data: [value] } : { int64Data: [value] }),
      });
    graph.initializer = [...(graph.initializer ?? []), scalar(`${tag}_eos`, eosId), scalar(`${tag}_zero`, 0)];
    added.push(
      proto.NodeProto.create({
        name: `${tag}_greater`,
        opType: 'Greater',
        input: [source as string, `${tag}_eos`],
        output: [`${tag}_past_vocab`],
      }),
      proto.NodeProto.create({
        name: `${tag}_where`,
        opType: 'Where',
        input: [`${tag}_past_vocab`, `${tag}_zero`, source as string],
        output: [`${tag}_ids`],
      }),
    );
    node.input = [`${tag}_ids`, ...(node.input ?? []).slice(1)];
  }
  if (added.length > 0) {
    // Topological order: the guards go right after the node that produces the ids (or first).
    const producers = new Map<string, number>();
    nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producers.set(o, i)));
    const ordered: onnx.INodeProto[] = [];
    const pending = new Map<number, onnx.INodeProto[]>();
    for (let i = 0; i < added.length; i += 2) {
      const source = added[i]?.input?.[0] ?? '';
      const at = producers.get(source) ?? -1;
      pending.set(at, [...(pending.get(at) ?? []), added[i] as onnx.INodeProto, added[i + 1] as onnx.INodeProto]);
    }
    ordered.push(...(pending.get(-1) ?? []));
    nodes.forEach((n, i) => ordered.push(n, ...(pending.get(i) ?? [])));
    graph.node = ordered as onnx.NodeProto[];
  }
  return guarded;
}
