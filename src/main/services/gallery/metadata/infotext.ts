/**
 * AUTOMATIC1111 "infotext": the `parameters` text that A1111, Forge and many other tools write into
 * PNGs. `formatInfotext` writes A1111's layout (`create_infotext` in modules/processing.py);
 * `parseA1111` is a line-by-line port of `parse_generation_parameters` in
 * modules/infotext_utils.py with the webui's default options, returning the same dictionary
 * (values stay strings, as A1111 leaves them; its defaults are numbers or booleans where A1111's are).
 * `recipeFromA1111` turns that dictionary into our recipe.
 */
import { z } from 'zod';
import { zRngKind, zSamplerName, type SamplerName } from '@contract';

// ---------------------------------------------------------------------------------------------
// The recipe
// ---------------------------------------------------------------------------------------------

export const zSumiLora = z.strictObject({
  name: z.string().min(1),
  /** The text encoder's strength, and the UNet's unless `unetWeight` says otherwise. */
  weight: z.number(),
  /** A1111's `<lora:name:te:unet>`: the UNet's own strength. */
  unetWeight: z.number().optional(),
  /** A1111's LoRA short hash: the first 12 hex digits of the file's SHA-256. */
  hash: z.string().optional(),
});

export const zSumiHires = z.strictObject({
  /** "Hires upscale": a factor; or `width`/`height` ("Hires resize") when an exact size was asked. */
  scale: z.number().positive().optional(),
  width: z.int().positive().optional(),
  height: z.int().positive().optional(),
  /** Second-pass steps; absent means "same as the first pass" (A1111 writes nothing for 0). */
  steps: z.int().positive().optional(),
  upscaler: z.string(),
  denoisingStrength: z.number().min(0).max(1),
});

/** Everything needed to make an image again, as the gallery stores it and the `sumi` chunk holds it. */
/** How an inpaint or outpaint was made (the mask itself is in the gallery, by hash). */
export const zSumiInpaint = z.strictObject({
  maskBlur: z.int().min(0),
  area: z.enum(['full', 'masked']),
  padding: z.int().min(0),
  maskedContent: z.enum(['original', 'latent-noise', 'fill']),
  colorMatch: z.boolean().optional(),
  /** Which engine path ran: the inpainting UNet, or masked blending with an ordinary UNet. */
  path: z.string().optional(),
});

export const zSumiRecipe = z.strictObject({
  mode: z.enum(['txt2img', 'img2img', 'inpaint', 'outpaint', 'upscale']),
  prompt: z.string(),
  negativePrompt: z.string(),
  seed: z.int().min(0).max(4294967295),
  sampler: zSamplerName,
  steps: z.int().min(1),
  cfg: z.number().min(0),
  width: z.int().positive(),
  height: z.int().positive(),
  /** img2img only: how much to repaint (A1111's "Denoising strength"). */
  strength: z.number().gt(0).max(1).optional(),
  model: z.strictObject({
    name: z.string(),
    /** A1111's short model hash: the first 10 hex digits of the file's SHA-256. */
    hash: z
      .string()
      .regex(/^[0-9a-f]{10}$/, 'must be 10 lower-case hex digits')
      .optional(),
  }),
  loras: z.array(zSumiLora),
  hires: zSumiHires.optional(),
  /** Textual-inversion embeddings the prompts used, with A1111's short hashes (`TI hashes`). */
  embeddings: z.array(z.strictObject({ name: z.string(), hash: z.string().optional() })).optional(),
  inpaint: zSumiInpaint.optional(),
  outpaint: z
    .strictObject({
      left: z.int().min(0),
      top: z.int().min(0),
      right: z.int().min(0),
      bottom: z.int().min(0),
      fill: z.enum(['edge', 'blur', 'noise']),
    })
    .optional(),
  /** upscale: the img2img pass after the Lanczos resize (strength 0 = none). */
  upscale: z.strictObject({ strength: z.number().min(0).max(1), steps: z.int().min(0) }).optional(),
  refiner: z.strictObject({ model: z.strictObject({ name: z.string() }), switchAt: z.number() }).optional(),
  tiledVae: z.boolean().optional(),
  /** CLIP skip; 1 (the default) is not written. */
  clipSkip: z.int().min(1).optional(),
  rng: zRngKind,
  appVersion: z.string(),
});
export type SumiRecipe = z.infer<typeof zSumiRecipe>;
export type SumiLora = z.infer<typeof zSumiLora>;
export type RngKind = SumiRecipe['rng'];

// ---------------------------------------------------------------------------------------------
// Sampler names, both ways
// ---------------------------------------------------------------------------------------------

/**
 * Our sampler -> A1111 1.9+ `Sampler` and `Schedule type`. Since 1.9 "DPM++ 2M" and "DPM++ SDE"
 * default to Karras under "Automatic", so our plain dpmpp_2m is written with an explicit "Uniform".
 * DDPM has no A1111 sampler; its name is written as is.
 */
export const A1111_SAMPLERS: Record<SamplerName, { sampler: string; scheduleType: string }> = {
  pndm: { sampler: 'PLMS', scheduleType: 'Automatic' },
  ddim: { sampler: 'DDIM', scheduleType: 'Automatic' },
  euler: { sampler: 'Euler', scheduleType: 'Automatic' },
  euler_a: { sampler: 'Euler a', scheduleType: 'Automatic' },
  dpmpp_2m: { sampler: 'DPM++ 2M', scheduleType: 'Uniform' },
  dpmpp_2m_karras: { sampler: 'DPM++ 2M', scheduleType: 'Karras' },
  dpmpp_sde_karras: { sampler: 'DPM++ SDE', scheduleType: 'Karras' },
  heun: { sampler: 'Heun', scheduleType: 'Automatic' },
  lms: { sampler: 'LMS', scheduleType: 'Automatic' },
  ddpm: { sampler: 'DDPM', scheduleType: 'Automatic' },
  lcm: { sampler: 'LCM', scheduleType: 'Automatic' },
  unipc: { sampler: 'UniPC', scheduleType: 'Automatic' },
};

/** A1111's scheduler labels (modules/sd_schedulers.py), for splitting pre-1.9 names like "DPM++ 2M Karras". */
const A1111_SCHEDULE_LABELS = [
  'Automatic',
  'Uniform',
  'Karras',
  'Exponential',
  'Polyexponential',
  'SGM Uniform',
  'KL Optimal',
  'Align Your Steps',
  'Simple',
  'Normal',
  'DDIM',
  'Beta',
];

/** Samplers whose schedule is their own (timestep samplers) or uniform under "Automatic". */
const PLAIN_SAMPLERS: Record<string, SamplerName> = {
  PLMS: 'pndm',
  DDIM: 'ddim',
  Euler: 'euler',
  'Euler a': 'euler_a',
  Heun: 'heun',
  LMS: 'lms',
  DDPM: 'ddpm',
  LCM: 'lcm',
  UniPC: 'unipc',
};

/**
 * A1111 `Sampler` (+ `Schedule type`) -> our sampler, or undefined when we have no equivalent.
 * `karrasIsAutomatic` says whether "Automatic" meant Karras for DPM++ 2M / SDE (webui 1.9 and later).
 */
export function samplerFromA1111(
  sampler: string,
  scheduleType: string,
  karrasIsAutomatic: boolean,
): SamplerName | undefined {
  let name = sampler;
  let schedule = scheduleType;
  for (const label of A1111_SCHEDULE_LABELS) {
    if (name.endsWith(` ${label}`)) {
      name = name.slice(0, -(label.length + 1));
      schedule = label;
      break;
    }
  }
  const plain = PLAIN_SAMPLERS[name];
  if (plain) return schedule === 'Automatic' || schedule === 'Uniform' ? plain : undefined;
  const karras = schedule === 'Karras' || (schedule === 'Automatic' && karrasIsAutomatic);
  if (name === 'DPM++ 2M') return karras ? 'dpmpp_2m_karras' : 'dpmpp_2m';
  if (name === 'DPM++ SDE' && karras) return 'dpmpp_sde_karras';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Python string semantics the port needs
// ---------------------------------------------------------------------------------------------

/** Python's str.isspace() set, which `\s` and strip() use on str. */
const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');
/** Python's `\w` on str: letters, numbers, underscore. */
const PY_WORD = '\\p{L}\\p{N}_';

function pyStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}

/**
 * `re_param_code = r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)'`, with Python's
 * Unicode `\s` and `\w`, and `.` as Python's (everything but a newline).
 */
const RE_PARAM_SOURCE = `[${PY_SPACE}]*([${PY_WORD}][${PY_WORD} \\-/]+):[${PY_SPACE}]*("(?:\\\\[^\\n]|[^\\\\"])+"|[^,]*)(?:,|$)`;
const RE_IMAGESIZE = /^(\p{Nd}+)x(\p{Nd}+)$/u;

function findParams(line: string): [string, string][] {
  return [...line.matchAll(new RegExp(RE_PARAM_SOURCE, 'gu'))].map((m) => [m[1] ?? '', m[2] ?? '']);
}

/** A1111's `quote()`: JSON-quote a value that holds a comma, a newline or a colon. */
export function quoteA1111(value: string | number): string {
  const text = String(value);
  if (!text.includes(',') && !text.includes('\n') && !text.includes(':')) return text;
  return JSON.stringify(text);
}

/** A1111's `unquote()`: JSON-decode a quoted value, or leave it as it is if that fails. */
export function unquoteA1111(text: string): string {
  if (text.length === 0 || !text.startsWith('"') || !text.endsWith('"')) return text;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'string' ? value : text;
  } catch {
    return text;
  }
}

function pyInt(value: string | number | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  const n = Number.parseInt(pyStrip(value), 10);
  return Number.isNaN(n) ? fallback : n;
}

// ---------------------------------------------------------------------------------------------
// PEP 440 ordering, for infotext_versions.backcompat
// ---------------------------------------------------------------------------------------------

const PEP440 =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/i;

type VersionKey = number[];

function versionKey(text: string): VersionKey | undefined {
  const m = PEP440.exec(pyStrip(text));
  if (!m) return undefined;
  const [, epoch, release = '0', preL, preN, postN1, postL, postN2, devL, devN, local] = m;
  const parts = release.split('.').map(Number);
  while (parts.length > 1 && parts[parts.length - 1] === 0) parts.pop();
  while (parts.length < 8) parts.push(0);
  const hasPost = postN1 !== undefined || postL !== undefined;
  const preRank = preL ? (({ a: 0, alpha: 0, b: 1, beta: 1 } as Record<string, number>)[preL.toLowerCase()] ?? 2) : 0;
  const pre = preL ? [preRank, Number(preN ?? 0)] : !hasPost && devL ? [-Infinity, 0] : [Infinity, 0];
  const post = hasPost ? Number(postN1 ?? postN2 ?? 0) : -Infinity;
  const dev = devL ? Number(devN ?? 0) : Infinity;
  return [Number(epoch ?? 0), ...parts, ...pre, post, dev, local ? 1 : -Infinity];
}

function compareVersions(a: VersionKey, b: VersionKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** `infotext_versions.parse_version`: "v1.7.0-225-g1234abc" -> "v1.7.0-225" -> a version. */
function parseWebuiVersion(text: string | undefined): VersionKey | undefined {
  if (text === undefined) return undefined;
  const m = /^([^-]+-[^-]+)-[^\n]*/.exec(text);
  return versionKey(m?.[1] ?? text);
}

const V160 = versionKey('1.6.0')!;
const V170_TSNR = versionKey('v1.7.0-225')!;
const V180 = versionKey('1.8.0')!;

// ---------------------------------------------------------------------------------------------
// parse_generation_parameters
// ---------------------------------------------------------------------------------------------

/** What A1111's parse_generation_parameters returns: mostly strings, with a few numeric or boolean defaults. */
export type A1111Params = Record<string, string | number | boolean>;

/**
 * A port of A1111's `parse_generation_parameters` (modules/infotext_utils.py) with the webui's default
 * options: styles are not extracted (no styles database here, and "Apply if any" adds nothing when
 * none match), `use_old_hires_fix_width_height` off, `auto_backcompat` on, nothing skipped.
 */
export function parseA1111(x: string): A1111Params {
  const res: A1111Params = {};
  let prompt = '';
  let negativePrompt = '';
  let doneWithPrompt = false;

  const lines = pyStrip(x).split('\n');
  let lastline = lines.pop() ?? '';
  if (findParams(lastline).length < 3) {
    lines.push(lastline);
    lastline = '';
  }

  for (const raw of lines) {
    let line = pyStrip(raw);
    if (line.startsWith('Negative prompt:')) {
      doneWithPrompt = true;
      line = pyStrip(line.slice(16));
    }
    if (doneWithPrompt) negativePrompt += (negativePrompt === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }

  res['Prompt'] = prompt;
  res['Negative prompt'] = negativePrompt;

  for (const [k, found] of findParams(lastline)) {
    // A1111 reads v[0] inside a try: an empty value raises, is reported and skipped.
    if (found.length === 0) continue;
    let v = found;
    if (v.startsWith('"') && v.endsWith('"')) v = unquoteA1111(v);
    const m = RE_IMAGESIZE.exec(v);
    if (m) {
      res[`${k}-1`] = m[1] ?? '';
      res[`${k}-2`] = m[2] ?? '';
    } else {
      res[k] = v;
    }
  }

  if (!('Clip skip' in res)) res['Clip skip'] = '1';

  const hypernet = res['Hypernet'];
  if (hypernet !== undefined) {
    res['Prompt'] =
      `${String(res['Prompt'])}<hypernet:${String(hypernet)}:${String(res['Hypernet strength'] ?? '1.0')}>`;
  }

  const defaults: [string, string | number][] = [
    ['Hires sampler', 'Use same sampler'],
    ['Hires checkpoint', 'Use same checkpoint'],
    ['Hires prompt', ''],
    ['Hires negative prompt', ''],
    ['Mask mode', 'Inpaint masked'],
    ['Masked content', 'original'],
    ['Inpaint area', 'Whole picture'],
    ['Masked area padding', 32],
  ];
  if (!('Hires resize-1' in res)) {
    res['Hires resize-1'] = 0;
    res['Hires resize-2'] = 0;
  }
  for (const [key, value] of defaults) if (!(key in res)) res[key] = value;

  restoreOldHiresFixParams(res);

  const laterDefaults: [string, string | number][] = [
    ['RNG', 'GPU'],
    ['Schedule type', 'Automatic'],
    ['Schedule max sigma', 0],
    ['Schedule min sigma', 0],
    ['Schedule rho', 0],
    ['VAE Encoder', 'Full'],
    ['VAE Decoder', 'Full'],
    ['FP8 weight', 'Disable'],
  ];
  for (const [key, value] of laterDefaults) if (!(key in res)) res[key] = value;
  if (!('Cache FP16 weight for LoRA' in res) && res['FP8 weight'] !== 'Disable') {
    res['Cache FP16 weight for LoRA'] = false;
  }

  backcompat(res);
  return res;
}

/** processing.old_hires_fix_first_pass_dimensions: scale to about 512x512, rounded up to 64. */
function oldHiresFixFirstPassDimensions(width: number, height: number): [number, number] {
  const scale = Math.sqrt((512 * 512) / (width * height));
  return [Math.ceil((scale * width) / 64) * 64, Math.ceil((scale * height) / 64) * 64];
}

/** infotext_utils.restore_old_hires_fix_params, with use_old_hires_fix_width_height off. */
function restoreOldHiresFixParams(res: A1111Params): void {
  const fpw = res['First pass size-1'];
  const fph = res['First pass size-2'];
  if (fpw === undefined || fph === undefined) return;
  let firstpassWidth = pyInt(fpw, 0);
  let firstpassHeight = pyInt(fph, 0);
  const width = pyInt(res['Size-1'], 512);
  const height = pyInt(res['Size-2'], 512);
  if (firstpassWidth === 0 || firstpassHeight === 0) {
    [firstpassWidth, firstpassHeight] = oldHiresFixFirstPassDimensions(width, height);
  }
  res['Size-1'] = firstpassWidth;
  res['Size-2'] = firstpassHeight;
  res['Hires resize-1'] = width;
  res['Hires resize-2'] = height;
}

/** infotext_versions.backcompat: flags that make old infotexts reproduce in newer webuis. */
function backcompat(d: A1111Params): void {
  const version = d['Version'];
  const ver = parseWebuiVersion(typeof version === 'string' ? version : undefined);
  if (!ver) return;
  const prompt = d['Prompt'];
  if (compareVersions(ver, V160) < 0 && typeof prompt === 'string' && prompt.includes('[')) {
    d['Old prompt editing timelines'] = true;
  }
  if (compareVersions(ver, V160) < 0 && (d['Sampler'] === 'DDIM' || d['Sampler'] === 'PLMS')) {
    d['Pad conds v0'] = true;
  }
  if (compareVersions(ver, V170_TSNR) < 0) d['Downcast alphas_cumprod'] = true;
  if (compareVersions(ver, V180) < 0 && d['Refiner']) d['Refiner switch by sampling steps'] = true;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

const SUMI_VERSION_PREFIX = 'Sumi Studio ';
const LORA_TAG = /[ \t]*<lora:([^:>]+)(?::([^>]*))?>/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A1111 drops ':' and ',' from a LoRA alias in "Lora hashes" so that the list stays parseable. */
function loraHashAlias(name: string): string {
  return name.replaceAll(':', '').replaceAll(',', '');
}

/**
 * The A1111 infotext for a recipe: prompt (with a `<lora:name:weight>` tag added for each LoRA the
 * prompt does not already name, so A1111 applies them), `Negative prompt:` when there is one, then
 * the parameters line in create_infotext's order and quoting. The version is written as
 * "Sumi Studio x.y.z", which A1111's backcompat does not mistake for an old webui.
 */
export function formatInfotext(recipe: SumiRecipe): string {
  let prompt = recipe.prompt;
  for (const lora of recipe.loras) {
    const named = new RegExp(`<lora:${escapeRegExp(lora.name)}(?::[^>]*)?>`);
    const weights = lora.unetWeight === undefined ? `${lora.weight}` : `${lora.weight}:${lora.unetWeight}`;
    if (!named.test(prompt)) prompt += `${prompt === '' ? '' : ' '}<lora:${lora.name}:${weights}>`;
  }

  const { sampler, scheduleType } = A1111_SAMPLERS[recipe.sampler];
  const denoising =
    recipe.mode === 'txt2img'
      ? recipe.hires?.denoisingStrength
      : recipe.mode === 'upscale'
        ? recipe.upscale?.strength || undefined
        : recipe.strength;
  const params: [string, string | number | undefined][] = [
    ['Steps', recipe.steps],
    ['Sampler', sampler],
    ['Schedule type', scheduleType],
    ['CFG scale', recipe.cfg],
    ['Seed', recipe.seed],
    ['Size', `${recipe.width}x${recipe.height}`],
    ['Model hash', recipe.model.hash],
    ['Model', recipe.model.name || undefined],
    ['Denoising strength', denoising],
    ['Clip skip', recipe.clipSkip !== undefined && recipe.clipSkip > 1 ? recipe.clipSkip : undefined],
    ['RNG', recipe.rng === 'torch-cpu' ? 'CPU' : recipe.rng],
  ];
  // A1111's img2img-tab parameters for inpainting (modules/processing.py extra_generation_params).
  const inpaint = recipe.inpaint;
  if (inpaint) {
    params.push(['Mask blur', inpaint.maskBlur]);
    if (inpaint.area === 'masked') {
      params.push(['Inpaint area', 'Only masked']);
      params.push(['Masked area padding', inpaint.padding]);
    }
  }
  if (recipe.refiner) {
    params.push(['Refiner', recipe.refiner.model.name]);
    params.push(['Refiner switch at', recipe.refiner.switchAt]);
  }
  const hires = recipe.mode === 'txt2img' ? recipe.hires : undefined;
  if (hires) {
    if (hires.width !== undefined && hires.height !== undefined) {
      params.push(['Hires resize', `${hires.width}x${hires.height}`]);
    } else {
      params.push(['Hires upscale', hires.scale ?? 2]);
    }
    params.push(['Hires steps', hires.steps]);
    params.push(['Hires upscaler', hires.upscaler]);
  }
  const hashed = recipe.loras.filter((l) => l.hash);
  if (hashed.length > 0) {
    params.push(['Lora hashes', hashed.map((l) => `${loraHashAlias(l.name)}: ${l.hash ?? ''}`).join(', ')]);
  }
  const tis = (recipe.embeddings ?? []).filter((e) => e.hash);
  if (tis.length > 0)
    params.push(['TI hashes', tis.map((e) => `${loraHashAlias(e.name)}: ${e.hash ?? ''}`).join(', ')]);
  params.push(['Version', `${SUMI_VERSION_PREFIX}${recipe.appVersion}`]);

  const line = params
    .filter((p): p is [string, string | number] => p[1] !== undefined)
    .map(([k, v]) => (k === v ? k : `${k}: ${quoteA1111(v)}`))
    .join(', ');
  const negative = recipe.negativePrompt ? `\nNegative prompt: ${recipe.negativePrompt}` : '';
  return pyStrip(`${prompt}${negative}\n${line}`);
}

// ---------------------------------------------------------------------------------------------
// Reading into a recipe
// ---------------------------------------------------------------------------------------------

function num(value: string | number | boolean | undefined): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const n = typeof value === 'number' ? value : Number(pyStrip(value));
  return typeof value === 'string' && pyStrip(value) === '' ? undefined : Number.isFinite(n) ? n : undefined;
}

function int(value: string | number | boolean | undefined): number | undefined {
  const n = num(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

function str(value: string | number | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** "name: hash, name2: hash2" -> Map(name -> hash); A1111 strips ':' and ',' from names. */
export function parseLoraHashes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of text.split(',')) {
    const colon = entry.lastIndexOf(':');
    if (colon < 0) continue;
    const name = entry.slice(0, colon).trim();
    const hash = entry.slice(colon + 1).trim();
    if (name && hash) out.set(name, hash);
  }
  return out;
}

/**
 * `<lora:name:weight>` tags in a prompt, and the prompt without them. As in A1111, `<lora:name:te:unet>`
 * (or `te=` / `unet=`) gives the UNet its own strength, `unetWeight`, set only when it differs from `weight`.
 */
export function extractLoraTags(prompt: string): {
  prompt: string;
  loras: { name: string; weight: number; unetWeight?: number }[];
} {
  const loras: { name: string; weight: number; unetWeight?: number }[] = [];
  const stripped = prompt.replace(LORA_TAG, (_tag, name: string, rest: string | undefined) => {
    const positional: string[] = [];
    const named = new Map<string, string>();
    for (const arg of rest === undefined ? [] : rest.split(':')) {
      const eq = arg.indexOf('=');
      if (eq > 0) named.set(arg.slice(0, eq).trim(), arg.slice(eq + 1));
      else positional.push(arg);
    }
    const number = (text: string | undefined, fallback: number): number => {
      const n = text === undefined || text.trim() === '' ? fallback : Number(text);
      return Number.isFinite(n) ? n : fallback;
    };
    const weight = number(named.get('te') ?? positional[0], 1);
    const unetWeight = number(named.get('unet') ?? positional[1], weight);
    loras.push(unetWeight === weight ? { name, weight } : { name, weight, unetWeight });
    return '';
  });
  return { prompt: stripped.replace(/^[ \t]+/, ''), loras };
}

/** Whether a webui `Version` means 1.9 or later, when "Automatic" became Karras for DPM++ 2M / SDE. */
function isWebui19OrLater(version: string | undefined): boolean {
  const m = version === undefined ? null : /v(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 1 || (major === 1 && minor >= 9);
}

/**
 * Our recipe from A1111's parsed parameters. Only what the infotext states is filled in; a sampler
 * we have no equivalent for is left out (the raw name stays in the parameters).
 */
export function recipeFromA1111(params: A1111Params): Partial<SumiRecipe> {
  const recipe: Partial<SumiRecipe> = {};
  const { prompt, loras } = extractLoraTags(str(params['Prompt']) ?? '');
  recipe.prompt = prompt;
  recipe.negativePrompt = str(params['Negative prompt']) ?? '';

  const version = str(params['Version']);
  const samplerName = str(params['Sampler']);
  if (samplerName !== undefined) {
    const scheduleType = str(params['Schedule type']) ?? 'Automatic';
    const sampler = samplerFromA1111(samplerName, scheduleType, isWebui19OrLater(version));
    if (sampler) recipe.sampler = sampler;
  }

  const seed = int(params['Seed']);
  if (seed !== undefined && seed >= 0 && seed <= 4294967295) recipe.seed = seed;
  const steps = int(params['Steps']);
  if (steps !== undefined) recipe.steps = steps;
  const cfg = num(params['CFG scale']);
  if (cfg !== undefined) recipe.cfg = cfg;
  const width = int(params['Size-1']);
  const height = int(params['Size-2']);
  if (width !== undefined && height !== undefined) {
    recipe.width = width;
    recipe.height = height;
  }

  const modelName = str(params['Model']);
  const modelHash = str(params['Model hash']);
  if (modelName !== undefined || modelHash !== undefined) {
    recipe.model = { name: modelName ?? '' };
    if (modelHash !== undefined && /^[0-9a-f]{10}$/.test(modelHash)) recipe.model.hash = modelHash;
  }

  const hashes = parseLoraHashes(str(params['Lora hashes']) ?? '');
  recipe.loras = loras.map((l) => {
    const hash = hashes.get(loraHashAlias(l.name));
    return hash === undefined ? l : { ...l, hash };
  });

  const denoising = num(params['Denoising strength']);
  const resizeW = int(params['Hires resize-1']) ?? 0;
  const resizeH = int(params['Hires resize-2']) ?? 0;
  const upscale = num(params['Hires upscale']);
  if (upscale !== undefined || (resizeW > 0 && resizeH > 0)) {
    recipe.mode = 'txt2img';
    const hiresSteps = int(params['Hires steps']);
    recipe.hires = {
      ...(resizeW > 0 && resizeH > 0 ? { width: resizeW, height: resizeH } : { scale: upscale ?? 2 }),
      ...(hiresSteps !== undefined && hiresSteps > 0 ? { steps: hiresSteps } : {}),
      upscaler: str(params['Hires upscaler']) ?? 'Latent',
      denoisingStrength: denoising ?? 0.7,
    };
  } else if (denoising !== undefined && denoising > 0) {
    recipe.mode = 'img2img';
    recipe.strength = denoising;
    const maskBlur = int(params['Mask blur']);
    if (maskBlur !== undefined) {
      // A1111 writes "Mask blur" only when a mask was used: an inpaint.
      recipe.mode = 'inpaint';
      const onlyMasked = str(params['Inpaint area']) === 'Only masked';
      recipe.inpaint = {
        maskBlur,
        area: onlyMasked ? 'masked' : 'full',
        padding: int(params['Masked area padding']) ?? 32,
        maskedContent: 'original',
      };
    }
  } else {
    recipe.mode = 'txt2img';
  }

  const clipSkip = int(params['Clip skip']);
  if (clipSkip !== undefined && clipSkip > 1) recipe.clipSkip = clipSkip;

  const rng = str(params['RNG']);
  if (rng === 'CPU') recipe.rng = 'torch-cpu';
  else if (rng === 'fast') recipe.rng = 'fast';

  if (version?.startsWith(SUMI_VERSION_PREFIX)) recipe.appVersion = version.slice(SUMI_VERSION_PREFIX.length);
  return recipe;
}
