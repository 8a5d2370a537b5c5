/**
 * The `sumi` command line, over the same engine process and services as the app. Scriptable:
 * `--json` prints one JSON object; errors print `sumi: <what went wrong>` and exit non-zero.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  executionProviders,
  rngKinds,
  samplerNames,
  type ExecutionProvider,
  type LibraryEntry,
  type ModelImportProgress,
  type SamplerName,
} from '@contract';
import sharp from 'sharp';
import { roundExtents } from './engine/imaging/outpaint';
import type {
  DiffusionRequest,
  GenerationMode,
  HiresUpscaler,
  MaskedContent,
  OutpaintFill,
} from './engine/pipelines/StableDiffusionPipeline';
import { AppError } from './services/AppError';
import { EngineClient } from './services/generation/EngineClient';
import { ensureDemoModel } from './services/models/demoModel';
import { readLoraFile } from './services/models/ModelLibrary';
import {
  a1111LoraHash,
  a1111ModelHash,
  addnetHashSafetensors,
  folderHash as hashFolder,
  legacyModelHash,
  sha256File,
} from './services/models/hashing';
import { openStandaloneLibrary, type StandaloneLibrary } from './services/models/standaloneLibrary';
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
      --mask MASK.png      inpaint --init where the mask is white (--strength defaults to 1)
        --mask-blur PX  --inpaint-area full|masked  --inpaint-padding PX
        --masked-content original|latent-noise|fill
      --outpaint L,T,R,B   outpaint --init (at --width x --height) by these pixels per side
        --outpaint-fill edge|blur|noise
      --hires WxH --hires-strength S [--hires-steps N] [--hires-upscaler lanczos|latent]
                           hires fix: txt2img at --width x --height, then img2img at WxH
      --upscale WxH [--upscale-strength S] [--upscale-steps N]
                           Lanczos-resize --init to WxH, then img2img at S (default 0: resize only)
      --tiled-vae          decode/encode the VAE in tiles (automatic above 1024x1024)
      --noise FILE         starting noise: raw little-endian float32, NCHW [batch,4,H/8,W/8]
      --out-latents FILE   write the final latents (before VAE scaling) as raw float32
      --rng fast|torch-cpu --provider ${executionProviders.join('|')}
      --lora PATH_OR_NAME:WEIGHT  merge a LoRA (a .safetensors path, or a name in the models folder's loras/); repeatable
      --json               print the resolved recipe, provider and timings as JSON
  sumi tokenize [--model DIR] TEXT       token ids with begin/end, no padding
  sumi models list [--json]              the models folder: kind, family, precision, size, hash, status
  sumi models hash PATH [--json]         sha256 of each file and a folder's hash; for a file A1111's
                                         Model hash (10 hex), for .safetensors its Lora hash (12 hex)
  sumi models import PATH_OR_URL [--move] [--name NAME] [--json]
                                         copy a diffusers ONNX folder or a .safetensors file into the
                                         models folder, or download one: https://huggingface.co/ORG/NAME
                                         (or ORG/NAME, …/tree/REV/DIR, a .safetensors URL); resumes an
                                         interrupted download; progress on stderr; HF_TOKEN, HF_ENDPOINT
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

type GenerateValues = Record<string, string | boolean | string[] | undefined>;

function str(values: GenerateValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** `WxH` -> sizes (multiples of 8, 64 to 4096). */
function sizeOption(name: string, raw: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/i.exec(raw);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 64 || height < 64 || width > 4096 || height > 4096 || width % 8 || height % 8)
    throw new UsageError(`--${name} must be WxH, multiples of 8 from 64 to 4096 (got ${JSON.stringify(raw)}).`);
  return { width, height };
}

/** The generation mode the options ask for; two modes at once are refused naming both options. */
function generateMode(values: GenerateValues): GenerationMode {
  const asked = (
    [
      ['mask', 'inpaint'],
      ['outpaint', 'outpaint'],
      ['upscale', 'upscale'],
      ['hires', 'txt2img'],
    ] as const
  ).filter(([option]) => values[option] !== undefined);
  if (asked.length > 1)
    throw new UsageError(`--${asked[0]![0]} and --${asked[1]![0]} cannot be combined: give one of them.`);
  const [only] = asked;
  if (only?.[0] === 'hires' && values.init)
    throw new UsageError('--hires is for txt2img: it cannot be combined with --init.');
  if (only) return only[1];
  return values.init ? 'img2img' : 'txt2img';
}

/** The inpaint, outpaint, hires and upscale options onto the engine request. */
function applyModeOptions(request: DiffusionRequest, values: GenerateValues): void {
  const mode = request.mode;
  const inpainting = mode === 'inpaint' || mode === 'outpaint';
  const maskOptions = ['mask-blur', 'inpaint-area', 'inpaint-padding', 'masked-content'];
  for (const option of maskOptions)
    if (!inpainting && values[option] !== undefined) throw new UsageError(`--${option} needs --mask or --outpaint.`);
  if (inpainting) {
    request.maskBlur = intOption('mask-blur', str(values, 'mask-blur'), 4, 0, 64);
    request.inpaintArea = oneOf<'full' | 'masked'>(
      'inpaint-area',
      str(values, 'inpaint-area'),
      ['full', 'masked'],
      'full',
    );
    request.inpaintPadding = intOption('inpaint-padding', str(values, 'inpaint-padding'), 32, 0, 256);
    request.maskedContent = oneOf<MaskedContent>(
      'masked-content',
      str(values, 'masked-content'),
      ['original', 'latent-noise', 'fill'],
      'original',
    );
  }
  const outpaint = str(values, 'outpaint');
  if (outpaint !== undefined) {
    const sides = outpaint.split(',').map(Number);
    if (sides.length !== 4 || sides.some((v) => !Number.isInteger(v) || v < 0 || v > 2048))
      throw new UsageError(
        `--outpaint must be LEFT,TOP,RIGHT,BOTTOM in pixels, 0 to 2048 (got ${JSON.stringify(outpaint)}).`,
      );
    const [left = 0, top = 0, right = 0, bottom = 0] = sides;
    request.outpaint = { left, top, right, bottom };
    request.outpaintFill = oneOf<OutpaintFill>(
      'outpaint-fill',
      str(values, 'outpaint-fill'),
      ['edge', 'blur', 'noise'],
      'edge',
    );
  } else if (values['outpaint-fill'] !== undefined) throw new UsageError('--outpaint-fill needs --outpaint.');
  const hires = str(values, 'hires');
  if (hires !== undefined) {
    request.hires = {
      ...sizeOption('hires', hires),
      strength: numberOption('hires-strength', str(values, 'hires-strength'), 0.5, 0.01, 1),
      steps: intOption('hires-steps', str(values, 'hires-steps'), 0, 0, 150),
      upscaler: oneOf<HiresUpscaler>('hires-upscaler', str(values, 'hires-upscaler'), ['lanczos', 'latent'], 'lanczos'),
    };
  } else {
    for (const option of ['hires-strength', 'hires-steps', 'hires-upscaler'])
      if (values[option] !== undefined) throw new UsageError(`--${option} needs --hires WxH.`);
  }
  if (mode === 'upscale') {
    request.upscale = {
      strength: numberOption('upscale-strength', str(values, 'upscale-strength'), 0, 0, 1),
      steps: intOption('upscale-steps', str(values, 'upscale-steps'), 0, 0, 150),
    };
  } else {
    for (const option of ['upscale-strength', 'upscale-steps'])
      if (values[option] !== undefined) throw new UsageError(`--${option} needs --upscale WxH.`);
  }
}

/** The mode's own settings, for the printed recipe. */
function modeRecipe(request: DiffusionRequest): Record<string, unknown> {
  const { maskBlur, inpaintArea, inpaintPadding, maskedContent, outpaint, outpaintFill, hires, upscale, tiledVae } =
    request;
  return Object.fromEntries(
    Object.entries({
      maskBlur,
      inpaintArea,
      inpaintPadding,
      maskedContent,
      outpaint,
      outpaintFill,
      hires,
      upscale,
      tiledVae,
    }).filter(([, v]) => v !== undefined && v !== false),
  );
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
      mask: { type: 'string' },
      'mask-blur': { type: 'string' },
      'inpaint-area': { type: 'string' },
      'inpaint-padding': { type: 'string' },
      'masked-content': { type: 'string' },
      outpaint: { type: 'string' },
      'outpaint-fill': { type: 'string' },
      hires: { type: 'string' },
      'hires-strength': { type: 'string' },
      'hires-steps': { type: 'string' },
      'hires-upscaler': { type: 'string' },
      upscale: { type: 'string' },
      'upscale-strength': { type: 'string' },
      'upscale-steps': { type: 'string' },
      'tiled-vae': { type: 'boolean', default: false },
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
  const mode = generateMode(values);
  const upscaleTo = values.upscale ? sizeOption('upscale', values.upscale) : null;
  const width = upscaleTo?.width ?? intOption('width', values.width, defaults.width, 64, 4096);
  const height = upscaleTo?.height ?? intOption('height', values.height, defaults.height, 64, 4096);
  if (width % 8 || height % 8)
    throw new UsageError(`--width and --height must be multiples of 8 (got ${width}x${height}).`);
  const batchSize = intOption('batch', values.batch, 1, 1, 8);
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : intOption('seed', values.seed, 0, 0, 2 ** 32 - 1);
  const request: DiffusionRequest = {
    mode,
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
    tiledVae: values['tiled-vae'],
  };
  const notices: string[] = [];
  applyModeOptions(request, values);
  if (values.noise) {
    const bytes = readFileSync(values.noise);
    // The first pass's size: outpaint (inpaint area 'full') runs on the enlarged canvas.
    const e =
      request.outpaint && request.inpaintArea !== 'masked'
        ? roundExtents(width, height, request.outpaint).extents
        : null;
    const [nw, nh] = e ? [width + e.left + e.right, height + e.top + e.bottom] : [width, height];
    const expected = batchSize * 4 * (nh / 8) * (nw / 8) * 4;
    if (bytes.length !== expected) {
      throw new UsageError(
        `--noise ${values.noise} has ${bytes.length} bytes; ${batchSize}x4x${nh / 8}x${nw / 8} float32 needs ${expected}.`,
      );
    }
    request.noise = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  if (values.init) {
    const bytes = readFileSync(values.init);
    // upscale: the image at its own size (the engine resizes it with Lanczos); otherwise at width x height.
    const own = mode === 'upscale' ? await sharp(bytes).metadata() : null;
    const image = await sharpCodec.decodeTo(bytes, own?.width ?? width, own?.height ?? height);
    const inpainting = mode === 'inpaint' || mode === 'outpaint';
    request.init = { image, strength: numberOption('strength', values.strength, inpainting ? 1 : 0.75, 0.01, 1) };
  } else if (values.strength !== undefined) {
    throw new UsageError('--strength needs --init IMG.');
  } else if (mode !== 'txt2img') {
    throw new UsageError(`--${mode === 'inpaint' ? 'mask' : mode} needs --init IMG.`);
  }
  if (values.mask) {
    const { mask, rescaled } = await sharpCodec.decodeMask(readFileSync(values.mask), width, height);
    request.mask = { width, height, data: mask };
    if (rescaled) notices.push(rescaled);
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
      mode,
      ...(request.init ? { strength: request.init.strength } : {}),
      ...modeRecipe(request),
      model: modelDir,
      modelHash: await folderHash(modelDir),
      family: result.probe.family,
      predictionType: result.probe.predictionType,
    },
    provider: result.provider,
    lora: result.loras.map((l, i) => ({ ...l, hash: loras[i]?.shortHash ?? null })),
    timings: { ...result.timings, totalMs },
    info: result.info ? { ...result.info, notices: [...notices, ...result.info.notices] } : null,
  };
  for (const notice of [...notices, ...(result.info?.notices ?? [])]) process.stderr.write(`sumi: ${notice}\n`);
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
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: sub === 'probe' },
      data: { type: 'string' },
      move: { type: 'boolean', default: false },
      name: { type: 'string' },
    },
  });
  const json = values.json ?? false;
  const target = positionals[0];
  if (sub === 'hash') {
    if (!target) throw new UsageError('models hash needs PATH (a file or a model folder).');
    return modelsHash(resolve(target), json);
  }
  if (sub === 'list' || sub === 'import') {
    const dataDir = values.data ? resolve(values.data) : defaultDataDir();
    const opened = await openStandaloneLibrary({
      dataDir,
      settingsStore: openNodeSettingsStore(dataDir),
      spawnEngine: forkEngine(join(here, 'engine.js')),
    });
    try {
      if (sub === 'list') return modelsList(await opened.library.list(), json);
      if (!target) throw new UsageError('models import needs a model folder, a .safetensors file or a URL.');
      return await modelsImport(opened, target, { move: values.move ?? false, name: values.name, json });
    } finally {
      await opened.dispose();
    }
  }
  if (sub !== 'probe')
    throw new UsageError('models needs a subcommand: list, hash PATH, import PATH_OR_URL or probe DIR.');
  const dir = target;
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

function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.ceil(bytes / 1024)} KB`;
}

function modelsList(entries: LibraryEntry[], json: boolean): void {
  const rows = entries.map((e) =>
    [
      e.kind,
      e.id,
      e.family,
      e.precision ?? '-',
      formatSize(e.bytes),
      e.shortHash ?? '-',
      e.status === 'ok' ? (e.demo ? 'ok (demo)' : 'ok') : `error: ${e.problem ?? ''}`,
    ].join('\t'),
  );
  print(entries, json, ['kind\tid\tfamily\tprecision\tsize\thash\tstatus', ...rows].join('\n'));
}

/** sha256 of every file; for a folder the folder hash, for a file A1111's short hashes. */
async function modelsHash(path: string, json: boolean): Promise<void> {
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) throw new AppError('NOT_FOUND', `${path}: no such file or folder.`);
  if (info.isDirectory()) {
    const hashed = await hashFolder(path);
    print(
      { path, folderSha256: hashed.sha256, files: hashed.files },
      json,
      [...hashed.files.map((f) => `${f.sha256}  ${f.path}`), `${hashed.sha256}  (folder)`].join('\n'),
    );
    return;
  }
  const sha256 = await sha256File(path);
  const report: Record<string, unknown> = {
    path,
    size: info.size,
    sha256,
    modelHash: a1111ModelHash(sha256),
    legacyModelHash: await legacyModelHash(path),
  };
  if (extname(path).toLowerCase() === '.safetensors') {
    const addnet = await addnetHashSafetensors(path);
    Object.assign(report, { addnetHash: addnet, loraHash: a1111LoraHash(addnet) });
  }
  const lines = [`sha256 ${sha256}`, `Model hash (A1111, 10 hex) ${report.modelHash as string}`];
  if (report.loraHash) lines.push(`Lora hash (A1111, 12 hex) ${report.loraHash as string}`);
  print(report, json, lines.join('\n'));
}

/** Imports a local folder or file (copy, or --move) or downloads a URL / ORG/NAME; progress on stderr. */
async function modelsImport(
  opened: StandaloneLibrary,
  source: string,
  options: { move: boolean; name: string | undefined; json: boolean },
): Promise<void> {
  const { library, hub } = opened;
  const local = existsSync(source);
  if (!local && !/^https?:\/\//i.test(source) && !/^[\w.-]+\/[\w.-]+$/.test(source))
    throw new AppError('NOT_FOUND', `${source}: no such file or folder (and not a URL).`);
  let shown = -1;
  let previous = '';
  const finished = new Promise<ModelImportProgress>((done) => {
    hub.subscribe((event, payload) => {
      if (event !== 'models.import') return;
      const p = payload as ModelImportProgress;
      const percent = p.totalBytes > 0 ? Math.floor((p.doneBytes / p.totalBytes) * 100) : 0;
      const line = `${local ? 'importing' : 'downloading'} ${p.id}: ${percent}% (${formatSize(p.doneBytes)} of ${formatSize(p.totalBytes)})${p.file ? ` ${p.file}` : ''}`;
      if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
      else if (line !== previous && (p.finished || percent >= shown + 10)) process.stderr.write(`${line}\n`);
      previous = line;
      shown = Math.max(shown, percent - (percent % 10));
      if (p.finished) {
        if (process.stderr.isTTY) process.stderr.write('\n');
        done(p);
      }
    });
  });
  const started = local
    ? await library.import(resolve(source), options.move)
    : await library.download(source, options.name);
  const cancel = (): void => {
    try {
      library.cancelImport(started.importId);
    } catch {
      // It finished in the meantime.
    }
  };
  process.once('SIGINT', cancel);
  // One import per run, so the first finished event is this one's (it may come before import() returns).
  const result = await finished.finally(() => process.off('SIGINT', cancel));
  if (result.error) throw new AppError('IO', `${started.id}: ${result.error}`);
  const entry = (await library.list()).find((e) => e.id === started.id);
  print(
    { id: started.id, entry: entry ?? null },
    options.json,
    `Imported ${started.id}${entry?.status === 'error' ? `, but: ${entry.problem ?? ''}` : ''}`,
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
