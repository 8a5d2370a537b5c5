/**
 * The fixture-model builder: every variant loads in ONNX Runtime with its exporter's exact contract,
 * runs at 64x64 (latents 8x8) with batch 2 to finite outputs of the right shapes, uses torch's names
 * for nodes and initializers, stores weights externally where the exporters do, and is reproducible.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto, { type onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import {
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ArrayToFloat16,
  float32ToFloat16Bits,
} from '../../../src/main/engine/builder/float16';
import {
  buildStableDiffusion,
  fixtureVariants,
  generateBpeVocabulary,
  isUpToDate,
  type FixtureVariant,
  type SdxlFixtureVariant,
} from '../../../src/main/engine/builder/sdModels';
import { clipVocabDir, ensureFixture, fixtureBuildOptions } from '../../helpers/fixtures';
import { makeTempDir } from '../../helpers/tempDir';

type Io = [name: string, dtype: string, shape: (number | string)[]];
interface PartIo {
  inputs: Io[];
  outputs: Io[];
}
type Part = 'text_encoder' | 'unet' | 'vae_encoder' | 'vae_decoder';
const parts: Part[] = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'];

// What ONNX Runtime reports for each part. Inputs are as declared; for outputs ORT fills in the dims its
// shape inference knows statically (e.g. the 4 channels of a Conv), exactly as it does for real exports.
function diffusersScript(f: string): Record<Part, PartIo> {
  return {
    text_encoder: {
      inputs: [['input_ids', 'int32', ['batch', 'sequence']]],
      outputs: [
        [
          'last_hidden_state',
          f,
          ['LayerNormalizationlast_hidden_state_dim_0', 'LayerNormalizationlast_hidden_state_dim_1', 768],
        ],
        ['pooler_output', f, ['GatherNDpooler_output_dim_0', 768]],
      ],
    },
    unet: {
      inputs: [
        ['sample', f, ['batch', 'channels', 'height', 'width']],
        ['timestep', f, ['batch']],
        ['encoder_hidden_states', f, ['batch', 'sequence', 768]],
      ],
      outputs: [['out_sample', f, ['Convout_sample_dim_0', 4, 'Convout_sample_dim_2', 'Convout_sample_dim_3']]],
    },
    vae_encoder: {
      inputs: [['sample', f, ['batch', 'channels', 'height', 'width']]],
      outputs: [
        ['latent_sample', f, ['Addlatent_sample_dim_0', 4, 'Addlatent_sample_dim_2', 'Addlatent_sample_dim_3']],
      ],
    },
    vae_decoder: {
      inputs: [['latent_sample', f, ['batch', 'channels', 'height', 'width']]],
      outputs: [['sample', f, ['Convsample_dim_0', 3, 'Convsample_dim_2', 'Convsample_dim_3']]],
    },
  };
}

function optimum(options: { width?: number; inChannels?: number; timestepCond?: boolean } = {}): Record<Part, PartIo> {
  const width = options.width ?? 768;
  const unetInputs: Io[] = [
    ['sample', 'float32', ['batch_size', options.inChannels ?? 4, 'height', 'width']],
    ['timestep', 'float32', []],
    ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', width]],
  ];
  if (options.timestepCond) unetInputs.push(['timestep_cond', 'float32', ['batch_size', 256]]);
  return {
    text_encoder: {
      inputs: [['input_ids', 'int64', ['batch_size', 'sequence_length']]],
      outputs: [
        ['last_hidden_state', 'float32', ['batch_size', 'sequence_length', width]],
        ['pooler_output', 'float32', ['batch_size', width]],
      ],
    },
    unet: { inputs: unetInputs, outputs: [['out_sample', 'float32', ['batch_size', 4, 'height', 'width']]] },
    vae_encoder: {
      inputs: [['sample', 'float32', ['batch_size', 3, 'sample_height', 'sample_width']]],
      outputs: [['latent_parameters', 'float32', ['batch_size', 8, 'sample_height / 8', 'sample_width / 8']]],
    },
    vae_decoder: {
      inputs: [['latent_sample', 'float32', ['batch_size', 4, 'latent_height', 'latent_width']]],
      outputs: [['sample', 'float32', ['batch_size', 3, 'latent_height * 8', 'latent_width * 8']]],
    },
  };
}

// SDXL's variants have other parts (text_encoder_2, no text_encoder in the refiner): tested in their own block below.
type SingleEncoderVariant = Exclude<FixtureVariant, SdxlFixtureVariant>;

const expectedIo: Record<SingleEncoderVariant, Record<Part, PartIo>> = {
  'sd1-diffusers': diffusersScript('float32'),
  'sd1-fp16': diffusersScript('float16'),
  'sd1-optimum-old': {
    text_encoder: {
      inputs: [['input_ids', 'int32', ['batch_size', 'sequence_length']]],
      outputs: [
        ['last_hidden_state', 'float32', ['batch_size', 'sequence_length', 768]],
        ['pooler_output', 'float32', ['batch_size', 768]],
      ],
    },
    unet: {
      inputs: [
        ['sample', 'float32', ['batch_size', 'num_channels', 'height', 'width']],
        ['timestep', 'int64', ['steps']],
        ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 'feature_dim']],
      ],
      outputs: [['out_sample', 'float32', ['batch_size', 4, 'height', 'width']]],
    },
    vae_encoder: {
      inputs: [['sample', 'float32', ['batch_size', 'num_channels', 'height', 'width']]],
      outputs: [['latent_sample', 'float32', ['batch_size', 4, 'height_latent', 'width_latent']]],
    },
    vae_decoder: {
      inputs: [['latent_sample', 'float32', ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent']]],
      outputs: [['sample', 'float32', ['batch_size', 3, 'height', 'width']]],
    },
  },
  'sd1-optimum': optimum(),
  'sd2-v': optimum({ width: 1024 }),
  'sd1-inpaint': optimum({ inChannels: 9 }),
  'sd1-lcm': optimum({ timestepCond: true }),
};

const variants = (Object.keys(fixtureVariants) as FixtureVariant[]).filter(
  (v): v is SingleEncoderVariant => fixtureVariants[v].sdxl === undefined,
);
const sessions: ort.InferenceSession[] = [];

async function session(dir: string, part: Part): Promise<ort.InferenceSession> {
  const created = await ort.InferenceSession.create(join(dir, part, 'model.onnx'));
  sessions.push(created);
  return created;
}

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

function describeIo(metadata: readonly ort.InferenceSession.ValueMetadata[]): Io[] {
  return metadata.map((m) => (m.isTensor ? [m.name, m.type, [...m.shape]] : [m.name, 'non-tensor', []]));
}

/** Deterministic pseudo-random floats in [-1, 1). */
function noise(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

function floatTensor(dtype: string, data: Float32Array, dims: number[]): ort.Tensor {
  return dtype === 'float16'
    ? new ort.Tensor('float16', float32ArrayToFloat16(data), dims)
    : new ort.Tensor('float32', data, dims);
}

function floats(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float16') return float16ArrayToFloat32(tensor.data as Uint16Array);
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  throw new Error(`not a float tensor: ${tensor.type}`);
}

function expectFinite(tensor: ort.Tensor): void {
  const values = floats(tensor);
  let bad = 0;
  for (const v of values) if (!Number.isFinite(v)) bad += 1;
  expect(bad).toBe(0);
}

function output(result: ort.InferenceSession.ReturnType, name: string): ort.Tensor {
  const value = result[name];
  if (!value) throw new Error(`missing output ${name}`);
  return value as ort.Tensor;
}

/** Two prompts as ids of the fixture's own vocabulary (CLIP's, or the generated fallback), padded to 77. */
async function promptRows(dir: string, tokenizer = 'tokenizer'): Promise<{ rows: number[][]; eos: number[] }> {
  const vocab = JSON.parse(await readFile(join(dir, tokenizer, 'vocab.json'), 'utf8')) as Record<string, number>;
  const id = (token: string): number => {
    const found = vocab[token] ?? vocab[`${token[0]}</w>`];
    if (found === undefined) throw new Error(`no token for ${token}`);
    return found;
  };
  const start = id('<|startoftext|>');
  const end = id('<|endoftext|>');
  const prompts = [
    ['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>'],
    ['a</w>', 'red</w>', 'car</w>'],
  ].map((words) => [start, ...words.map(id), end]);
  return {
    rows: prompts.map((ids) => [...ids, ...new Array<number>(77 - ids.length).fill(end)]),
    eos: prompts.map((ids) => ids.length - 1),
  };
}

function idsTensor(dtype: string, rows: number[][]): ort.Tensor {
  const flat = rows.flat();
  return dtype === 'int32'
    ? new ort.Tensor('int32', Int32Array.from(flat), [rows.length, 77])
    : new ort.Tensor(
        'int64',
        BigInt64Array.from(flat, (v) => BigInt(v)),
        [rows.length, 77],
      );
}

function timestepTensor(dtype: string, rank: number, value: number): ort.Tensor {
  const dims = rank === 0 ? [] : [2];
  const count = rank === 0 ? 1 : 2;
  if (dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(value)), dims);
  return floatTensor(dtype, new Float32Array(count).fill(value), dims);
}

interface ParsedModel {
  model: onnx.ModelProto;
  nodes: Map<string, onnx.NodeProto>;
  initializers: Map<string, onnx.TensorProto>;
}

/** Decodes a .onnx file (decoded messages are full class instances, so their fields are all present). */
async function loadModelProto(path: string): Promise<ParsedModel> {
  const model = onnxProto.onnx.ModelProto.decode(await readFile(path));
  const graph = model.graph as onnx.GraphProto;
  return {
    model,
    nodes: new Map((graph.node as onnx.NodeProto[]).map((n) => [n.name, n])),
    initializers: new Map((graph.initializer as onnx.TensorProto[]).map((t) => [t.name, t])),
  };
}

function numberOf(value: number | { toNumber(): number }): number {
  return typeof value === 'number' ? value : value.toNumber();
}

describe.each(variants)('%s', (variant) => {
  const spec = fixtureVariants[variant];
  const floatType = spec.dtype;

  test('each part has the exporter’s input/output names, dtypes and shapes', async () => {
    const dir = await ensureFixture(variant);
    for (const part of parts) {
      const s = await session(dir, part);
      expect({ part, inputs: describeIo(s.inputMetadata), outputs: describeIo(s.outputMetadata) }).toEqual({
        part,
        ...expectedIo[variant][part],
      });
    }
  });

  test('every part runs at 64x64, batch 2, to finite outputs of the right shapes', async () => {
    const dir = await ensureFixture(variant);
    const width = spec.textEncoder.outputWidth;

    const textEncoder = await session(dir, 'text_encoder');
    const idsType = expectedIo[variant].text_encoder.inputs[0]?.[1] as string;
    const prompts = await promptRows(dir);
    const text = await textEncoder.run({ input_ids: idsTensor(idsType, prompts.rows) });
    const hidden = output(text, 'last_hidden_state');
    const pooled = output(text, 'pooler_output');
    expect(hidden.dims).toEqual([2, 77, width]);
    expect(pooled.dims).toEqual([2, width]);
    expectFinite(hidden);
    expectFinite(pooled);
    // CLIP pools the hidden state at the end-of-text token, the argmax of the ids.
    const hiddenValues = floats(hidden);
    const pooledValues = floats(pooled);
    prompts.eos.forEach((eos, row) => {
      const start = (row * 77 + eos) * width;
      expect(Array.from(pooledValues.subarray(row * width, (row + 1) * width))).toEqual(
        Array.from(hiddenValues.subarray(start, start + width)),
      );
    });

    const unet = await session(dir, 'unet');
    const timestep = expectedIo[variant].unet.inputs.find(([name]) => name === 'timestep') as Io;
    const feeds: Record<string, ort.Tensor> = {
      sample: floatTensor(floatType, noise(2 * spec.unet.inChannels * 64, 1), [2, spec.unet.inChannels, 8, 8]),
      timestep: timestepTensor(timestep[1], timestep[2].length, 901),
      encoder_hidden_states: hidden,
    };
    if (spec.unet.timeCondProjDim !== null) {
      feeds.timestep_cond = floatTensor(floatType, noise(2 * spec.unet.timeCondProjDim, 2), [
        2,
        spec.unet.timeCondProjDim,
      ]);
    }
    const predicted = output(await unet.run(feeds), 'out_sample');
    expect(predicted.dims).toEqual([2, 4, 8, 8]);
    expectFinite(predicted);

    const vaeEncoder = await session(dir, 'vae_encoder');
    const encoded = await vaeEncoder.run({ sample: floatTensor(floatType, noise(2 * 3 * 64 * 64, 3), [2, 3, 64, 64]) });
    const latentName = vaeEncoder.outputNames[0] as string;
    const latent = output(encoded, latentName);
    expect(latent.dims).toEqual([2, latentName === 'latent_parameters' ? 8 : 4, 8, 8]);
    expectFinite(latent);

    const vaeDecoder = await session(dir, 'vae_decoder');
    const decoded = output(
      await vaeDecoder.run({ latent_sample: floatTensor(floatType, noise(2 * 4 * 64, 4), [2, 4, 8, 8]) }),
      'sample',
    );
    expect(decoded.dims).toEqual([2, 3, 64, 64]);
    expectFinite(decoded);
  });

  test('the prompt changes the UNet’s prediction', async () => {
    const dir = await ensureFixture(variant);
    const width = spec.textEncoder.outputWidth;
    const unet = await session(dir, 'unet');
    const timestep = expectedIo[variant].unet.inputs.find(([name]) => name === 'timestep') as Io;
    const run = async (contextSeed: number): Promise<Float32Array> => {
      const feeds: Record<string, ort.Tensor> = {
        sample: floatTensor(floatType, noise(2 * spec.unet.inChannels * 64, 5), [2, spec.unet.inChannels, 8, 8]),
        timestep: timestepTensor(timestep[1], timestep[2].length, 500),
        encoder_hidden_states: floatTensor(floatType, noise(2 * 77 * width, contextSeed), [2, 77, width]),
      };
      if (spec.unet.timeCondProjDim !== null) {
        feeds.timestep_cond = floatTensor(floatType, noise(2 * spec.unet.timeCondProjDim, 6), [
          2,
          spec.unet.timeCondProjDim,
        ]);
      }
      return floats(output(await unet.run(feeds), 'out_sample'));
    };
    const first = await run(10);
    const again = await run(10);
    const other = await run(11);
    expect(Array.from(again)).toEqual(Array.from(first));
    let meanAbsDiff = 0;
    for (let i = 0; i < first.length; i++) meanAbsDiff += Math.abs((first[i] as number) - (other[i] as number));
    meanAbsDiff /= first.length;
    expect(meanAbsDiff).toBeGreaterThan(0.05);
  });

  test('the folder has the diffusers layout, configs and marker', async () => {
    const dir = await ensureFixture(variant);
    const modelIndex = JSON.parse(await readFile(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
    expect(modelIndex.unet).toEqual(['diffusers', 'OnnxRuntimeModel']);
    expect(modelIndex.tokenizer).toEqual(['transformers', 'CLIPTokenizer']);
    const scheduler = JSON.parse(await readFile(join(dir, 'scheduler/scheduler_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(modelIndex.scheduler).toEqual(['diffusers', scheduler._class_name]);
    const expectedScheduler: Partial<Record<FixtureVariant, [string, string | undefined]>> = {
      'sd2-v': ['DDIMScheduler', 'v_prediction'],
      'sd1-lcm': ['LCMScheduler', 'epsilon'],
    };
    expect([scheduler._class_name, scheduler.prediction_type]).toEqual(
      expectedScheduler[variant] ?? ['PNDMScheduler', undefined],
    );
    expect(scheduler.beta_start).toBe(0.00085);
    expect(scheduler.beta_end).toBe(0.012);

    const tokenizer = await readdir(join(dir, 'tokenizer'));
    expect(tokenizer.sort()).toEqual(['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json']);
    const tokenizerConfig = JSON.parse(await readFile(join(dir, 'tokenizer/tokenizer_config.json'), 'utf8')) as {
      pad_token: string;
      model_max_length: number;
    };
    expect(tokenizerConfig.pad_token).toBe(spec.family === 'sd2' ? '!' : '<|endoftext|>');
    expect(tokenizerConfig.model_max_length).toBe(77);

    const marker = JSON.parse(await readFile(join(dir, 'sumi_model.json'), 'utf8')) as Record<string, unknown>;
    expect(marker).toMatchObject({ demo: false, label: spec.label, fixture: variant, seed: spec.seed });
    expect(await isUpToDate(dir, spec, fixtureBuildOptions)).toBe(true);

    const unetFiles = (await readdir(join(dir, 'unet'))).sort();
    if (spec.exportStyle === 'diffusers') {
      expect(unetFiles).toEqual(['model.onnx', 'weights.pb']);
    } else {
      expect(unetFiles).toEqual(['config.json', 'model.onnx', 'model.onnx_data']);
      const unetConfig = JSON.parse(await readFile(join(dir, 'unet/config.json'), 'utf8')) as Record<string, unknown>;
      expect(unetConfig).toMatchObject({
        in_channels: spec.unet.inChannels,
        cross_attention_dim: spec.textEncoder.outputWidth,
        time_cond_proj_dim: spec.unet.timeCondProjDim,
      });
      const vaeConfig = JSON.parse(await readFile(join(dir, 'vae_decoder/config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(vaeConfig).toMatchObject({ scaling_factor: 0.18215, latent_channels: 4 });
      const textConfig = JSON.parse(await readFile(join(dir, 'text_encoder/config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(textConfig).toMatchObject({ hidden_size: spec.textEncoder.outputWidth, max_position_embeddings: 77 });
    }
  });
});

// Optimum's SDXL contract: output_hidden_states on both text encoders, CLIPTextModelWithProjection's
// text_embeds, and the UNet's added conditions (text_embeds, time_ids: 5 with the refiner's aesthetic score).
function sdxlIo(variant: SdxlFixtureVariant): Record<string, PartIo> {
  const hidden = (width: number): Io[] =>
    [0, 1, 2].map((i) => [`hidden_states.${i}`, 'float32', ['batch_size', 'sequence_length', width]]);
  const ids: Io = ['input_ids', 'int64', ['batch_size', 'sequence_length']];
  const refiner = variant === 'sdxl-refiner';
  const io: Record<string, PartIo> = {
    text_encoder_2: {
      inputs: [ids],
      outputs: [
        ['text_embeds', 'float32', ['batch_size', 1280]],
        ['last_hidden_state', 'float32', ['batch_size', 'sequence_length', 1280]],
        ...hidden(1280),
      ],
    },
    unet: {
      inputs: [
        ['sample', 'float32', ['batch_size', 4, 'height', 'width']],
        ['timestep', 'float32', []],
        ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', refiner ? 1280 : 2048]],
        ['text_embeds', 'float32', ['batch_size', 1280]],
        ['time_ids', 'float32', ['batch_size', refiner ? 5 : 6]],
      ],
      outputs: [['out_sample', 'float32', ['batch_size', 4, 'height', 'width']]],
    },
    vae_encoder: optimum().vae_encoder,
    vae_decoder: optimum().vae_decoder,
  };
  if (!refiner) {
    io.text_encoder = {
      inputs: [ids],
      outputs: [
        ['last_hidden_state', 'float32', ['batch_size', 'sequence_length', 768]],
        ['pooler_output', 'float32', ['batch_size', 768]],
        ...hidden(768),
      ],
    };
  }
  return io;
}

describe.each(['sdxl-base', 'sdxl-refiner', 'sdxl-turbo'] as const)('%s', (variant) => {
  const spec = fixtureVariants[variant];
  const open = async (dir: string, part: string): Promise<ort.InferenceSession> => {
    const created = await ort.InferenceSession.create(join(dir, part, 'model.onnx'));
    sessions.push(created);
    return created;
  };

  test('each part has Optimum’s SDXL input/output names, dtypes and shapes', async () => {
    const dir = await ensureFixture(variant);
    const expected = sdxlIo(variant);
    const present = (await readdir(dir)).filter((name) => name in expected || name === 'text_encoder');
    expect(present.sort()).toEqual(Object.keys(expected).sort());
    for (const [part, io] of Object.entries(expected)) {
      const s = await open(dir, part);
      expect({ part, inputs: describeIo(s.inputMetadata), outputs: describeIo(s.outputMetadata) }).toEqual({
        part,
        ...io,
      });
    }
  });

  test('the encoders give hidden states and the pooled projection; the UNet runs on them and its time ids', async () => {
    const dir = await ensureFixture(variant);
    const prompts = await promptRows(dir, 'tokenizer_2');
    const te2 = await open(dir, 'text_encoder_2');
    const text2 = await te2.run({ input_ids: idsTensor('int64', prompts.rows) });
    expect(output(text2, 'text_embeds').dims).toEqual([2, 1280]);
    expect(output(text2, 'hidden_states.1').dims).toEqual([2, 77, 1280]);
    for (const name of ['text_embeds', 'last_hidden_state', 'hidden_states.0', 'hidden_states.1', 'hidden_states.2'])
      expectFinite(output(text2, name));
    // hidden_states.0 is the embeddings' output, the same for every prompt at position 0 (the start token).
    const first = floats(output(text2, 'hidden_states.0'));
    expect(Array.from(first.subarray(0, 1280))).toEqual(Array.from(first.subarray(77 * 1280, 78 * 1280)));
    expect(Array.from(floats(output(text2, 'hidden_states.1')))).not.toEqual(
      Array.from(floats(output(text2, 'hidden_states.2'))),
    );

    let context = floats(output(text2, 'hidden_states.1'));
    let width = 1280;
    if (spec.sdxl?.textEncoder1) {
      const te1 = await open(dir, 'text_encoder');
      const text1 = await te1.run({ input_ids: idsTensor('int64', prompts.rows) });
      expect(output(text1, 'hidden_states.1').dims).toEqual([2, 77, 768]);
      expect(output(text1, 'pooler_output').dims).toEqual([2, 768]);
      const h1 = floats(output(text1, 'hidden_states.1'));
      const joined = new Float32Array(2 * 77 * 2048);
      for (let t = 0; t < 2 * 77; t++) {
        joined.set(h1.subarray(t * 768, (t + 1) * 768), t * 2048);
        joined.set(context.subarray(t * 1280, (t + 1) * 1280), t * 2048 + 768);
      }
      context = joined;
      width = 2048;
    }

    const unet = await open(dir, 'unet');
    const timeIds = spec.sdxl?.requiresAestheticsScore ? [64, 64, 0, 0, 6] : [64, 64, 0, 0, 64, 64];
    const predict = async (ids: number[]): Promise<Float32Array> => {
      const result = await unet.run({
        sample: new ort.Tensor('float32', noise(2 * 4 * 64, 1), [2, 4, 8, 8]),
        timestep: new ort.Tensor('float32', new Float32Array([901]), []),
        encoder_hidden_states: new ort.Tensor('float32', context, [2, 77, width]),
        text_embeds: output(text2, 'text_embeds'),
        time_ids: new ort.Tensor('float32', Float32Array.from([...ids, ...ids]), [2, ids.length]),
      });
      const predicted = output(result, 'out_sample');
      expect(predicted.dims).toEqual([2, 4, 8, 8]);
      expectFinite(predicted);
      return floats(predicted);
    };
    const a = await predict(timeIds);
    const b = await predict(timeIds.map((v, i) => (i === timeIds.length - 1 ? v + 1 : v)));
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  test('the folder has SDXL’s layout: two tokenizers, model_index, scheduler and VAE configs', async () => {
    const dir = await ensureFixture(variant);
    const json = async (file: string): Promise<Record<string, unknown>> =>
      JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, unknown>;
    const sdxl = spec.sdxl!;
    const index = await json('model_index.json');
    expect(index).toMatchObject({
      _class_name: sdxl.textEncoder1 ? 'StableDiffusionXLPipeline' : 'StableDiffusionXLImg2ImgPipeline',
      force_zeros_for_empty_prompt: sdxl.forceZerosForEmptyPrompt,
      text_encoder: sdxl.textEncoder1 ? ['diffusers', 'OnnxRuntimeModel'] : [null, null],
      text_encoder_2: ['diffusers', 'OnnxRuntimeModel'],
      tokenizer: sdxl.textEncoder1 ? ['transformers', 'CLIPTokenizer'] : [null, null],
      tokenizer_2: ['transformers', 'CLIPTokenizer'],
    });
    expect(index.requires_aesthetics_score).toBe(sdxl.requiresAestheticsScore ? true : undefined);
    expect((await json('tokenizer_2/tokenizer_config.json')).pad_token).toBe('!');
    if (sdxl.textEncoder1) expect((await json('tokenizer/tokenizer_config.json')).pad_token).toBe('<|endoftext|>');
    else expect((await readdir(dir)).includes('tokenizer')).toBe(false);
    const scheduler = await json('scheduler/scheduler_config.json');
    expect([scheduler._class_name, scheduler.timestep_spacing]).toEqual(
      variant === 'sdxl-turbo'
        ? ['EulerAncestralDiscreteScheduler', 'trailing']
        : ['EulerDiscreteScheduler', 'leading'],
    );
    expect(await json('vae_decoder/config.json')).toMatchObject({ scaling_factor: 0.13025, force_upcast: true });
    expect(await json('unet/config.json')).toMatchObject({
      addition_embed_type: 'text_time',
      cross_attention_dim: sdxl.textEncoder1 ? 2048 : 1280,
      requires_aesthetics_score: sdxl.requiresAestheticsScore,
      use_linear_projection: true,
    });
    expect(await json('text_encoder_2/config.json')).toMatchObject({
      architectures: ['CLIPTextModelWithProjection'],
      hidden_size: 1280,
      projection_dim: 1280,
    });
    expect(await isUpToDate(dir, spec, fixtureBuildOptions)).toBe(true);
  });
});

describe('ONNX files', () => {
  test('the UNet uses torch-exporter names for nodes and initializers, with weights stored externally', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { model, nodes, initializers } = await loadModelProto(join(dir, 'unet/model.onnx'));
    expect(model.opsetImport.map((o) => [o.domain, numberOf(o.version)])).toEqual([['', 17]]);

    const toQ = nodes.get('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul');
    expect(toQ?.opType).toBe('MatMul');
    const toQWeight = toQ?.input[1] as string;
    expect(toQWeight).toMatch(/^onnx::MatMul_\d+$/);
    // Linear weights are stored transposed: [in_features, out_features].
    expect(initializers.get(toQWeight)?.dims.map(numberOf)).toEqual([32, 32]);
    const toK = nodes.get('/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul');
    expect(initializers.get(toK?.input[1] as string)?.dims.map(numberOf)).toEqual([768, 32]);

    const conv1 = nodes.get('/down_blocks.0/resnets.0/conv1/Conv');
    expect(conv1?.input.slice(1)).toEqual([
      'down_blocks.0.resnets.0.conv1.weight',
      'down_blocks.0.resnets.0.conv1.bias',
    ]);
    const conv1Weight = initializers.get('down_blocks.0.resnets.0.conv1.weight') as onnx.TensorProto;
    expect(conv1Weight.dims.map(numberOf)).toEqual([32, 32, 3, 3]);
    const toOut = nodes.get('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_out.0/Add');
    expect(toOut?.input[0]).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.bias');
    expect(nodes.get('/time_embedding/linear_1/Gemm')?.input[1]).toBe('time_embedding.linear_1.weight');
    expect(nodes.get('/down_blocks.0/resnets.0/norm1/InstanceNormalization')).toBeDefined();
    expect(nodes.get('/up_blocks.0/upsamplers.0/Resize')).toBeDefined();
    expect(nodes.get('/mid_block/attentions.0/transformer_blocks.0/ff/net.0/proj/MatMul')).toBeDefined();

    // Large tensors live in model.onnx_data at (offset, length); small ones stay inline like onnx saves them.
    const dataSize = (await readFile(join(dir, 'unet/model.onnx_data'))).byteLength;
    const entries = Object.fromEntries(conv1Weight.externalData.map((e) => [e.key, e.value]));
    expect(conv1Weight.dataLocation).toBe(onnxProto.onnx.TensorProto.DataLocation.EXTERNAL);
    expect(entries.location).toBe('model.onnx_data');
    expect(Number(entries.length)).toBe(32 * 32 * 9 * 4);
    expect(Number(entries.offset) + Number(entries.length)).toBeLessThanOrEqual(dataSize);
    const bias = initializers.get('down_blocks.0.resnets.0.conv1.bias') as onnx.TensorProto;
    expect(bias.rawData.byteLength).toBe(32 * 4);
  });

  test('the diffusers-script UNet keeps its weights in weights.pb, in fp16 for the fp16 export', async () => {
    const dir = await ensureFixture('sd1-fp16');
    const { initializers } = await loadModelProto(join(dir, 'unet/model.onnx'));
    const weight = initializers.get('down_blocks.0.resnets.0.conv1.weight') as onnx.TensorProto;
    expect(weight.dataType).toBe(onnxProto.onnx.TensorProto.DataType.FLOAT16);
    expect(Object.fromEntries(weight.externalData.map((e) => [e.key, e.value]))).toMatchObject({
      location: 'weights.pb',
      length: String(32 * 32 * 9 * 2),
    });
  });

  test('the text encoder uses CLIP’s module names and sizes its embedding to the vocabulary', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const { nodes, initializers } = await loadModelProto(join(dir, 'text_encoder/model.onnx'));
    expect(nodes.has('/text_model/encoder/layers.0/self_attn/q_proj/MatMul')).toBe(true);
    expect(nodes.has('/text_model/final_layer_norm/LayerNormalization')).toBe(true);
    const vocab = JSON.parse(await readFile(join(dir, 'tokenizer/vocab.json'), 'utf8')) as Record<string, number>;
    const table = initializers.get('text_model.embeddings.token_embedding.weight');
    expect(table?.dims.map(numberOf)).toEqual([Object.keys(vocab).length, 32]);
    expect(initializers.has('text_model.final_layer_norm.weight')).toBe(true);
  });

  test('export styles differ only in their contract: the same seed gives the same UNet function', async () => {
    const [diffusers, current] = await Promise.all([ensureFixture('sd1-diffusers'), ensureFixture('sd1-optimum')]);
    const sample = noise(2 * 4 * 64, 7);
    const context = noise(2 * 77 * 768, 8);
    const predict = async (dir: string, timestep: ort.Tensor): Promise<Float32Array> => {
      const unet = await session(dir, 'unet');
      const result = await unet.run({
        sample: new ort.Tensor('float32', sample, [2, 4, 8, 8]),
        timestep,
        encoder_hidden_states: new ort.Tensor('float32', context, [2, 77, 768]),
      });
      return floats(output(result, 'out_sample'));
    };
    const a = await predict(diffusers, new ort.Tensor('float32', new Float32Array([321, 321]), [2]));
    const b = await predict(current, new ort.Tensor('float32', new Float32Array([321]), []));
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});

describe('builds', () => {
  test('the same seed writes byte-identical files; another seed writes other weights', async () => {
    const temp = makeTempDir('sumi-builder-');
    try {
      const spec = fixtureVariants['sd1-lcm'];
      await buildStableDiffusion(join(temp.dir, 'a'), spec, { clipVocabDir });
      await buildStableDiffusion(join(temp.dir, 'b'), spec, { clipVocabDir });
      await buildStableDiffusion(join(temp.dir, 'c'), { ...spec, seed: spec.seed + 1 }, { clipVocabDir });
      const files = (await readdir(join(temp.dir, 'a'), { recursive: true })).filter((f) => f.includes('.')).sort();
      expect(files).toContain('unet/model.onnx_data');
      for (const file of files) {
        const [a, b] = await Promise.all([readFile(join(temp.dir, 'a', file)), readFile(join(temp.dir, 'b', file))]);
        expect(a.equals(b), file).toBe(true);
      }
      const [a, c] = await Promise.all([
        readFile(join(temp.dir, 'a/unet/model.onnx_data')),
        readFile(join(temp.dir, 'c/unet/model.onnx_data')),
      ]);
      expect(a.equals(c)).toBe(false);
    } finally {
      temp.cleanup();
    }
  });

  test('an existing different model is kept unless replacing is asked for', async () => {
    const temp = makeTempDir('sumi-builder-');
    try {
      const dir = join(temp.dir, 'model');
      const spec = fixtureVariants['sd1-optimum'];
      await buildStableDiffusion(dir, spec, { clipVocabDir });
      const again = await buildStableDiffusion(dir, spec, { clipVocabDir });
      expect(again.built).toBe(false);
      const other = { ...spec, seed: 99 };
      await expect(buildStableDiffusion(dir, other, { clipVocabDir })).rejects.toThrow(/different model/);
      expect(await isUpToDate(dir, spec, { clipVocabDir })).toBe(true);
      await buildStableDiffusion(dir, other, { clipVocabDir, replace: true });
      expect(await isUpToDate(dir, other, { clipVocabDir })).toBe(true);
      expect((await readdir(temp.dir)).sort()).toEqual(['model']);
    } finally {
      temp.cleanup();
    }
  });

  test('without the CLIP files a small byte-level BPE vocabulary is generated in the same layout', async () => {
    const { vocab, merges } = generateBpeVocabulary();
    const ids = Object.values(vocab);
    expect(vocab['!']).toBe(0);
    expect(vocab['!</w>']).toBe(256);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.max(...ids)).toBe(ids.length - 1);
    expect(vocab['<|endoftext|>']).toBe(ids.length - 1);
    expect(vocab['<|startoftext|>']).toBe(ids.length - 2);
    expect(merges.length).toBeGreaterThan(200);
    for (const merge of merges) expect(merge.split(' ')).toHaveLength(2);
    expect(vocab['the</w>']).toBeDefined();

    const temp = makeTempDir('sumi-builder-');
    try {
      const dir = join(temp.dir, 'model');
      const report = await buildStableDiffusion(dir, fixtureVariants['sd2-v'], { clipVocabDir: null });
      expect(report.tokenizer).toBe('generated');
      const merged = await readFile(join(dir, 'tokenizer/merges.txt'), 'utf8');
      expect(merged.split('\n')[0]).toBe('#version: 0.2');
      const written = JSON.parse(await readFile(join(dir, 'tokenizer/vocab.json'), 'utf8')) as Record<string, number>;
      const textEncoder = await session(dir, 'text_encoder');
      const start = written['<|startoftext|>'] as number;
      const end = written['<|endoftext|>'] as number;
      const row = [start, written['a</w>'] as number, end, ...new Array<number>(74).fill(end)];
      const result = await textEncoder.run({
        input_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(row, (v) => BigInt(v)),
          [1, 77],
        ),
      });
      expect(output(result, 'last_hidden_state').dims).toEqual([1, 77, 1024]);
      await textEncoder.release();
      sessions.splice(sessions.indexOf(textEncoder), 1);
    } finally {
      temp.cleanup();
    }
  });
});

describe('float16', () => {
  test.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00],
    [1e6, 0x7c00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002],
    [(1023 / 1024) * 2 ** -14, 0x03ff],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [1 + 2 ** -11 + 2 ** -20, 0x3c01],
    [1e-8, 0x0000],
    [-1e-8, 0x8000],
  ])('%s rounds to half bits %i', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  test('NaN stays NaN both ways', () => {
    const bits = float32ToFloat16Bits(NaN);
    expect(bits & 0x7c00).toBe(0x7c00);
    expect(bits & 0x03ff).not.toBe(0);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });

  test('every half value survives a round trip through float32', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const widened = float16ArrayToFloat32(all);
    const back = float32ArrayToFloat16(widened);
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x03ff) !== 0;
      if (isNaN) expect(Number.isNaN(widened[i])).toBe(true);
      else if (back[i] !== i) expect.fail(`0x${i.toString(16)} came back as 0x${(back[i] as number).toString(16)}`);
    }
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
  });
});
