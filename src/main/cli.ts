/**
 * The `sumi` command line, over the same engine process and services as the app. Scriptable:
 * `--json` prints one JSON object; errors print `sumi: <what went wrong>` and exit non-zero.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { executionProviders, rngKinds, samplerNames, type ExecutionProvider, type SamplerName } from '@contract';
import type { DiffusionRequest } from './engine/pipelines/StableDiffusionPipeline';
import { AppError } from './services/AppError';
import { EngineClient } from './services/generation/EngineClient';
import { ensureDemoModel } from './services/models/demoModel';
import { readLoraFile } from './services/models/ModelLibrary';
import { defaultSettings } from './services/settings/defaults';
import { defaultDataDir } from './platform/node/dataDir';
import { forkEngine } from './platform/node/forkEngine';
import { sharpCodec } from './platform/sharpCodec';
import pkg from '../../package.json';
import { AppServices } from './AppServices';
import { openNodeSettingsStore } from './platform/node/settingsStore';
import { GalleryRepository } from './services/gallery/db/GalleryRepository';
import { openGalleryDb } from './services/gallery/db/openGalleryDb';
import { formatInfotext, parseA1111, recipeFromA1111, zSumiRecipe } from './services/gallery/metadata/infotext';
import { PNG_SIGNATURE, readPngText } from './services/gallery/metadata/pngChunks';
import { recallFromPng } from './services/gallery/metadata/readers';

const here = dirname(fileURLToPath(import.meta.url));

class UsageError extends Error {}

const usage = `Usage:
  sumi generate --prompt TEXT --out FILE.png [options]
      --model DIR          diffusers ONNX model folder (default: the built-in demo model)
      --negative TEXT      negative prompt
      --sampler NAME       ${samplerNames.join(', ')}
      --steps N  --cfg X  --seed N  --width W  --height H  --batch N
      --init IMG --strength S      img2img from an image (PNG/JPEG/WebP)
      --noise FILE         starting noise: raw little-endian float32, NCHW [batch,4,H/8,W/8]
      --out-latents FILE   write the final latents (before VAE scaling) as raw float32
      --rng fast|torch-cpu --provider ${executionProviders.join('|')}
      --lora PATH_OR_NAME:WEIGHT  merge a LoRA (a .safetensors path, or a name in the models folder's loras/); repeatable
      --json               print the resolved recipe, provider and timings as JSON
  sumi tokenize [--model DIR] TEXT       token ids with begin/end, no padding
  sumi models probe DIR                  family, prediction type, precision, parts, sizes
  sumi schedulers                        the sampler names
  sumi infotext parse FILE.png|-         recall a recipe from a PNG (Sumi, A1111, InvokeAI, ComfyUI,
                                         Fooocus) or, from stdin, an A1111 infotext; --a1111 prints
                                         exactly what A1111's parse_generation_parameters returns
  sumi infotext format RECIPE.json       a Sumi recipe as A1111 infotext
  sumi gallery list [--search TEXT] [--limit N]   the newest gallery images (JSON)
  sumi gallery show ID                   one image with its full recipe (JSON)
  sumi gallery rerun ID [--new-seed]     regenerate an image (same seed, or a variation) into the gallery
  sumi gallery export ID... --to DIR     copy images (PNG with their metadata) into DIR
Common: --data DIR (data folder; default: the app's)`;

function fail(message: string, code = 1): never {
  process.stderr.write(`sumi: ${message}\n`);
  process.exit(code);
}

function print(value: unknown, json: boolean, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)}).`);
  return v;
}

function numberOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max)
    throw new UsageError(`--${name} must be a number from ${min} to ${max} (got ${JSON.stringify(raw)}).`);
  return v;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)}).`);
  return raw as T;
}

/** sha256 over every file of a model folder, in path order: the recipe's model hash. */
async function folderHash(dir: string): Promise<string> {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) files.push(p);
    }
  };
  walk(dir);
  const outer = createHash('sha256');
  for (const file of files) {
    const inner = createHash('sha256');
    for await (const chunk of createReadStream(file)) inner.update(chunk as Buffer);
    outer.update(
      `${file
        .slice(dir.length + 1)
        .split(/[\\/]/)
        .join('/')}\0${inner.digest('hex')}\n`,
    );
  }
  return outer.digest('hex');
}

async function withEngine<T>(providers: ExecutionProvider[], work: (engine: EngineClient) => Promise<T>): Promise<T> {
  const engine = new EngineClient(forkEngine(join(here, 'engine.js')), { providers });
  try {
    return await work(engine);
  } finally {
    await engine.dispose();
  }
}

async function resolveModel(model: string | undefined, dataDir: string): Promise<string> {
  if (model) {
    const dir = resolve(model);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(`--model ${model}: no such folder.`);
    return dir;
  }
  return ensureDemoModel(join(dataDir, 'models'));
}

async function generate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      negative: { type: 'string', default: '' },
      sampler: { type: 'string' },
      steps: { type: 'string' },
      cfg: { type: 'string' },
      seed: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      init: { type: 'string' },
      strength: { type: 'string' },
      batch: { type: 'string' },
      noise: { type: 'string' },
      'out-latents': { type: 'string' },
      rng: { type: 'string' },
      provider: { type: 'string' },
      lora: { type: 'string', multiple: true },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      data: { type: 'string' },
    },
  });
  if (values.prompt === undefined) throw new UsageError('--prompt is required.');
  if (!values.out) throw new UsageError('--out FILE.png is required.');
  const defaults = defaultSettings('/').defaults;
  const width = intOption('width', values.width, defaults.width, 64, 4096);
  const height = intOption('height', values.height, defaults.height, 64, 4096);
  if (width % 8 || height % 8)
    throw new UsageError(`--width and --height must be multiples of 8 (got ${width}x${height}).`);
  const batchSize = intOption('batch', values.batch, 1, 1, 8);
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : intOption('seed', values.seed, 0, 0, 2 ** 32 - 1);
  const request: DiffusionRequest = {
    prompt: values.prompt,
    negativePrompt: values.negative ?? '',
    width,
    height,
    steps: intOption('steps', values.steps, defaults.steps, 1, 150),
    cfg: numberOption('cfg', values.cfg, defaults.cfg, 0, 30),
    sampler: oneOf<SamplerName>('sampler', values.sampler, samplerNames, defaults.sampler),
    seed,
    rng: oneOf('rng', values.rng, rngKinds, defaults.rng),
    batchSize,
  };
  if (values.noise) {
    const bytes = readFileSync(values.noise);
    const expected = batchSize * 4 * (height / 8) * (width / 8) * 4;
    if (bytes.length !== expected) {
      throw new UsageError(
        `--noise ${values.noise} has ${bytes.length} bytes; ${batchSize}x4x${height / 8}x${width / 8} float32 needs ${expected}.`,
      );
    }
    request.noise = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  if (values.init) {
    const image = await sharpCodec.decodeTo(readFileSync(values.init), width, height);
    request.init = { image, strength: numberOption('strength', values.strength, 0.75, 0.01, 1) };
  } else if (values.strength !== undefined) {
    throw new UsageError('--strength needs --init IMG.');
  }
  const provider = values.provider
    ? oneOf<ExecutionProvider>('provider', values.provider, executionProviders, 'cpu')
    : null;
  const dataDir = values.data ? resolve(values.data) : defaultDataDir();
  const modelDir = await resolveModel(values.model, dataDir);
  const loras: Awaited<ReturnType<typeof readLoraFile>>[] = [];
  for (const raw of values.lora ?? []) {
    const match = /^(.*?)(?::(-?[0-9.]+))?$/.exec(raw);
    const target = match?.[1] ?? raw;
    const weight = match?.[2] === undefined ? 1 : Number(match[2]);
    if (!target || !Number.isFinite(weight)) throw new UsageError(`--lora ${raw}: expected PATH_OR_NAME:WEIGHT.`);
    const path = existsSync(target) ? resolve(target) : join(dataDir, 'models', 'loras', `${target}.safetensors`);
    if (!existsSync(path)) throw new UsageError(`--lora ${raw}: no file ${target}, and no ${path}.`);
    loras.push(await readLoraFile(path, basename(path, '.safetensors'), weight));
  }
  const started = performance.now();
  const result = await withEngine(provider ? [provider] : [...defaultSettings('/').executionProviders], (engine) => {
    const call = {
      id: 'cli',
      modelDir,
      request,
      wantLatents: Boolean(values['out-latents']),
      loras: loras.map((l) => l.spec),
    };
    return engine.generate(call);
  });
  const totalMs = performance.now() - started;
  const out = resolve(values.out);
  const files: string[] = [];
  for (const [i, image] of result.images.entries()) {
    const file = i === 0 ? out : out.replace(/(\.png)?$/i, `-${i + 1}.png`);
    writeFileSync(file, await sharpCodec.encodePng(image));
    files.push(file);
  }
  if (values['out-latents'] && result.latents) {
    const l = result.latents;
    writeFileSync(values['out-latents'], Buffer.from(l.buffer, l.byteOffset, l.byteLength));
  }
  const summary = {
    files,
    recipe: {
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      seed,
      width,
      height,
      sampler: request.sampler,
      steps: request.steps,
      cfg: request.cfg,
      batchSize,
      rng: request.rng,
      mode: request.init ? 'img2img' : 'txt2img',
      ...(request.init ? { strength: request.init.strength } : {}),
      model: modelDir,
      modelHash: await folderHash(modelDir),
      family: result.probe.family,
      predictionType: result.probe.predictionType,
    },
    provider: result.provider,
    lora: result.loras.map((l, i) => ({ ...l, hash: loras[i]?.shortHash ?? null })),
    timings: { ...result.timings, totalMs },
  };
  print(summary, values.json, files.join('\n'));
}

async function tokenize(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { model: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean', default: true } },
  });
  const text = positionals.join(' ');
  if (!text) throw new UsageError('tokenize needs TEXT.');
  const modelDir = await resolveModel(values.model, values.data ? resolve(values.data) : defaultDataDir());
  const ids = await withEngine(['cpu'], (engine) => engine.tokenize(modelDir, text));
  process.stdout.write(`${JSON.stringify(ids)}\n`);
}

async function models(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'probe') throw new UsageError('models needs a subcommand: probe DIR.');
  const { positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: true } },
  });
  const dir = positionals[0];
  if (!dir) throw new UsageError('models probe needs DIR.');
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${dir}: no such folder.`);
  const report = await withEngine(['cpu'], (engine) => engine.probe(resolve(dir)));
  const { probe } = report;
  print(
    {
      family: probe.family,
      predictionType: probe.predictionType,
      precision: probe.precision,
      inpainting: probe.inpainting,
      lcm: probe.lcm,
      crossAttentionDim: probe.crossAttentionDim,
      unetInChannels: probe.unetInChannels,
      vaeScalingFactor: probe.vaeScalingFactor,
      demo: report.marker?.demo ?? false,
      parts: report.parts,
      totalBytes: report.parts.reduce((s, p) => s + p.bytes, 0),
    },
    true,
    '',
  );
}

async function infotext(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { a1111: { type: 'boolean', default: false } },
  });
  const source = positionals[0];
  if (!source) throw new UsageError(`infotext ${sub ?? ''} needs a file (or - for standard input).`);
  const bytes = source === '-' ? readFileSync(0) : readFileSync(source);
  if (sub === 'format') {
    const recipe = zSumiRecipe.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!recipe.success)
      throw new UsageError(
        `${source} is not a Sumi recipe: ${recipe.error.issues[0]?.path.join('.')}: ${recipe.error.issues[0]?.message}`,
      );
    process.stdout.write(`${formatInfotext(recipe.data)}\n`);
    return;
  }
  if (sub !== 'parse') throw new UsageError('infotext needs parse or format.');
  const isPng = bytes.subarray(0, 8).equals(PNG_SIGNATURE);
  if (values.a1111) {
    const text = isPng
      ? (readPngText(bytes).find((c) => c.keyword === 'parameters')?.text ?? '')
      : bytes.toString('utf8');
    process.stdout.write(`${JSON.stringify(parseA1111(text), null, 2)}\n`);
    return;
  }
  const recall = isPng
    ? recallFromPng(bytes)
    : { source: 'a1111', recipe: recipeFromA1111(parseA1111(bytes.toString('utf8'))) };
  process.stdout.write(`${JSON.stringify({ source: recall.source, recipe: recall.recipe }, null, 2)}\n`);
}

async function gallery(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      search: { type: 'string' },
      limit: { type: 'string', default: '20' },
      to: { type: 'string' },
      'new-seed': { type: 'boolean', default: false },
    },
  });
  const dataDir = values.data ? resolve(values.data) : defaultDataDir();
  if (sub === 'rerun' || sub === 'export') return galleryWithServices(sub, dataDir, positionals, values);
  const opened = await openGalleryDb(join(dataDir, 'gallery.sqlite'));
  if (opened.status !== 'ok')
    throw new AppError(
      'IO',
      `The gallery database is damaged (${opened.problems.join('; ')}); start the app to repair it.`,
    );
  const repo = new GalleryRepository(opened.db);
  try {
    if (sub === 'list') {
      const page = repo.page({
        limit: intOption('limit', values.limit, 20, 1, 500),
        sort: 'newest',
        ...(values.search ? { search: values.search } : {}),
      });
      print(page.items, true, '');
    } else if (sub === 'show') {
      const id = intOption('id', positionals[0], 0, 1, Number.MAX_SAFE_INTEGER);
      const image = repo.getImage(id);
      print({ image, generation: repo.getGeneration(image.generationId), lineage: repo.lineage(id) }, true, '');
    } else {
      throw new UsageError('gallery needs list, show ID, rerun ID or export ID --to DIR.');
    }
  } finally {
    opened.db.close();
  }
}

/** Commands that need the whole service layer (the engine for rerun, the image store for export). */
async function galleryWithServices(
  sub: 'rerun' | 'export',
  dataDir: string,
  positionals: string[],
  values: { to?: string | undefined; 'new-seed'?: boolean | undefined },
): Promise<void> {
  const ids = positionals.map((p) => intOption('id', p, 0, 1, Number.MAX_SAFE_INTEGER));
  if (ids.length === 0) throw new UsageError(`gallery ${sub} needs at least one image ID.`);
  if (sub === 'export' && !values.to) throw new UsageError('gallery export needs --to DIR.');
  const app = await AppServices.create({
    host: 'web',
    version: pkg.version,
    dataDir,
    settingsStore: openNodeSettingsStore(dataDir),
    spawnEngine: forkEngine(join(here, 'engine.js')),
    codec: sharpCodec,
    openExternal: async () => false,
  });
  try {
    const call = async <T>(method: string, input: unknown): Promise<T> => {
      const result = await app.router.dispatch(method, input);
      if (!result.ok) throw new AppError(result.error.code, result.error.message);
      return result.value as T;
    };
    if (sub === 'export') {
      print(await call('gallery.export', { ids, folder: resolve(values.to as string) }), true, '');
      return;
    }
    const jobs: string[] = [];
    for (const id of ids)
      jobs.push((await call<{ jobId: string }>('gallery.rerun', { id, newSeed: values['new-seed'] ?? false })).jobId);
    await app.generation.idle();
    const done = app.generation.list().filter((j) => jobs.includes(j.id));
    const failed = done.find((j) => j.status !== 'done');
    if (failed) throw new AppError('ENGINE', failed.error?.message ?? `job ${failed.id} ${failed.status}`);
    print(
      done.flatMap((j) => j.results),
      true,
      '',
    );
  } finally {
    await app.dispose();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'generate':
      return generate(rest);
    case 'tokenize':
      return tokenize(rest);
    case 'models':
      return models(rest);
    case 'infotext':
      return infotext(rest);
    case 'gallery':
      return gallery(rest);
    case 'schedulers':
      process.stdout.write(`${JSON.stringify(samplerNames)}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${usage}\n`);
      return;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}.`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) fail(`${err.message}\n\n${usage}`, 2);
    if (err instanceof AppError) fail(err.message);
    if (
      err instanceof TypeError &&
      'code' in err &&
      String((err as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')
    )
      fail(`${err.message}\n\n${usage}`, 2);
    fail(err instanceof Error ? err.message : String(err));
  },
);
