/**
 * Textual-inversion embeddings on a fixture text encoder: a prompt naming an embedding gives the hidden
 * states (and pooled output) that feeding its vectors gives, checked against a copy of the model whose own
 * token rows were overwritten with those vectors; prompts without the name are unchanged; names are found
 * as whole words in any case; other widths are refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import { afterAll, describe, expect, test } from 'vitest';
import { openSessionFromBytes, type GraphSession } from '../../../../src/main/engine/backend/ort';
import { buildPromptChunks } from '../../../../src/main/engine/components/promptWeighting';
import { Engine, loadModel, type LoadedModel } from '../../../../src/main/engine/Engine';
import { EngineError } from '../../../../src/main/engine/EngineError';
import { readEmbeddingFile } from '../../../../src/main/services/models/embeddings';
import { fixtureTokenTable, writeFixtureEmbedding } from '../../../helpers/fixtureEmbeddings';
import { ensureFixture } from '../../../helpers/fixtures';
import { makeTempDir } from '../../../helpers/tempDir';

const proto = onnxProto.onnx;
const temp = makeTempDir('sumi-embeddings-');
afterAll(() => temp.cleanup());
const cpu = { providers: ['cpu'] as const };

const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

/** The fixture's text encoder with `vectors` written over the token rows `ids` (the model's own rows). */
async function withRowsOverwritten(dir: string, ids: number[], vectors: Float32Array): Promise<GraphSession> {
  const model = proto.ModelProto.decode(readFileSync(join(dir, 'text_encoder', 'model.onnx')));
  const table = ((model.graph?.initializer ?? []) as onnx.TensorProto[]).find((t) =>
    t.name.endsWith('token_embedding.weight'),
  ) as onnx.TensorProto;
  const width = Number(table.dims[1]);
  const values = new Float32Array(Uint8Array.from(table.rawData).buffer);
  ids.forEach((id, i) => values.set(vectors.subarray(i * width, (i + 1) * width), id * width));
  table.rawData = new Uint8Array(values.buffer);
  return openSessionFromBytes(proto.ModelProto.encode(model).finish(), 'rows overwritten', cpu);
}

async function hidden(session: GraphSession, ids: number[]): Promise<{ last: Float32Array; pooled: Float32Array }> {
  const out = await session.run({ input_ids: { data: Int32Array.from(ids), dims: [1, ids.length] } });
  return { last: out.last_hidden_state?.data as Float32Array, pooled: out.pooler_output?.data as Float32Array };
}

const release = (model: LoadedModel): Promise<unknown> => Promise.all(model.sessions.map((s) => s.release()));

describe('textual-inversion embeddings', () => {
  test('a prompt naming an embedding encodes as its vectors would; prompts without it are unchanged', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const table = fixtureTokenTable(dir);
    const fixture = writeFixtureEmbedding(join(temp.dir, 'Paper-Fox.safetensors'), {
      format: 'a1111',
      count: 3,
      width: table.width,
      seed: 3,
    });
    const { spec } = await readEmbeddingFile(fixture.file);
    expect(spec.name).toBe('Paper-Fox');

    const plain = await loadModel(dir, cpu);
    const withEmbedding = await loadModel(dir, cpu, [], [spec]);
    expect(withEmbedding.embeddings).toEqual([{ name: 'Paper-Fox', vectors: 3 }]);

    // The name expands to three new ids after the vocabulary, as a whole word in any case.
    const tokenizer = withEmbedding.tokenizer;
    const newIds = [table.rows, table.rows + 1, table.rows + 2];
    expect(tokenizer.encode('paper-fox')).toEqual(newIds);
    expect(tokenizer.encode('a (PAPER-FOX:1.2), ink')).toEqual([
      ...plain.tokenizer.encode('a ('),
      ...newIds,
      ...plain.tokenizer.encode(':1.2), ink'),
    ]);
    expect(tokenizer.encode('paper-foxes')).toEqual(plain.tokenizer.encode('paper-foxes'));

    // Reference: the same vectors written into rows the vocabulary already has, fed by their ids.
    const prompt = 'a lighthouse, Paper-Fox, at dusk';
    const chunk = buildPromptChunks(tokenizer, prompt).chunks[0]?.ids as number[];
    expect(chunk.filter((id) => id >= table.rows)).toEqual(newIds);
    const standIns = [5, 6, 7];
    expect(chunk.some((id) => standIns.includes(id))).toBe(false);
    const reference = await withRowsOverwritten(dir, standIns, fixture.vectors);
    const want = await hidden(
      reference,
      chunk.map((id) => (id >= table.rows ? (standIns[id - table.rows] as number) : id)),
    );
    const got = await hidden(withEmbedding.pipeline.parts.textEncoder.session, chunk);
    expect(maxDiff(got.last, want.last)).toBeLessThan(1e-5);
    // The pooled output is still taken at the end-of-text token (the argmax guard).
    expect(maxDiff(got.pooled, want.pooled)).toBeLessThan(1e-5);

    const encoded = await withEmbedding.pipeline.parts.textEncoder.encode(prompt, '');
    expect(maxDiff(encoded.cond, want.last)).toBeLessThan(1e-5);
    const before = await plain.pipeline.parts.textEncoder.encode(prompt, '');
    expect(maxDiff(encoded.cond, before.cond)).toBeGreaterThan(1e-3);

    // Without the name, the prompt encodes exactly as on the model without the embedding.
    const other = 'a lighthouse at dusk, paper foxes';
    const a = await withEmbedding.pipeline.parts.textEncoder.encode(other, 'blurry');
    const b = await plain.pipeline.parts.textEncoder.encode(other, 'blurry');
    expect(sameBytes(a.cond, b.cond)).toBe(true);
    expect(sameBytes(a.uncond, b.uncond)).toBe(true);
    await Promise.all([release(plain), release(withEmbedding), reference.release()]);
  });

  test('A1111, string_to_param and diffusers files of the same vectors encode the same', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { width } = fixtureTokenTable(dir);
    const prompt = 'ink-cat sleeping';
    const results: Float32Array[] = [];
    for (const format of ['a1111', 'string-to-param', 'diffusers'] as const) {
      const file = join(temp.dir, `${format}.safetensors`);
      writeFixtureEmbedding(file, { format, count: 1, width, seed: 9 });
      const { spec } = await readEmbeddingFile(file, 'ink-cat');
      const model = await loadModel(dir, cpu, [], [spec]);
      results.push((await model.pipeline.parts.textEncoder.encode(prompt, '')).cond);
      await release(model);
    }
    expect(sameBytes(results[0] as Float32Array, results[1] as Float32Array)).toBe(true);
    expect(sameBytes(results[0] as Float32Array, results[2] as Float32Array)).toBe(true);
  });

  test('two embeddings get consecutive ids in name order, whatever order they come in', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { rows, width } = fixtureTokenTable(dir);
    const specs = [];
    for (const [name, count] of [
      ['zeta', 2],
      ['alpha', 1],
    ] as const) {
      const file = join(temp.dir, `${name}.safetensors`);
      writeFixtureEmbedding(file, { format: 'a1111', count, width, seed: count });
      specs.push((await readEmbeddingFile(file)).spec);
    }
    const model = await loadModel(dir, cpu, [], specs);
    expect(model.tokenizer.encode('zeta alpha')).toEqual([rows + 1, rows + 2, rows]);
    await release(model);
  });

  test('an embedding of another width is refused, naming both widths', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { width } = fixtureTokenTable(dir);
    const sd2 = join(temp.dir, 'wide.safetensors');
    writeFixtureEmbedding(sd2, { format: 'a1111', count: 2, width: 1024, seed: 1 });
    const { spec } = await readEmbeddingFile(sd2);
    const attempt = loadModel(dir, cpu, [], [spec]);
    await expect(attempt).rejects.toThrow(EngineError);
    await expect(loadModel(dir, cpu, [], [spec])).rejects.toThrow(
      `Embedding "wide" is an SD 2.x embedding (1024), but this is an SD 1.x model (${width})`,
    );
  });

  test('the engine rebuilds only the text encoder when the embeddings change', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { width } = fixtureTokenTable(dir);
    const file = join(temp.dir, 'only-te.safetensors');
    writeFixtureEmbedding(file, { format: 'a1111', count: 2, width, seed: 4 });
    const { spec } = await readEmbeddingFile(file);
    const engine = new Engine(cpu);
    const first = await engine.load(dir);
    const builds = engine.parts.builds;
    const unet = first.pipeline.parts.unet.session;
    const second = await engine.load(dir, [], [spec]);
    expect(engine.parts.builds).toBe(builds + 1);
    expect(second.pipeline.parts.unet.session).toBe(unet);
    expect(second.pipeline.parts.textEncoder.session).not.toBe(first.pipeline.parts.textEncoder.session);
    expect(second.tokenizer.encode('only-te')).toHaveLength(2);
    await engine.unload();
    expect(engine.parts.size).toBe(0);
  });
});
