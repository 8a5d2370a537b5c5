/**
 * "Recall": which tool made a PNG, and the recipe it wrote. Each tool keeps its own text chunk:
 * Sumi `sumi` (our JSON, iTXt), InvokeAI `invokeai_metadata` (JSON), ComfyUI `prompt` (the API
 * graph), Fooocus `parameters` (JSON) with `fooocus_scheme`, A1111/Forge `parameters` (infotext).
 * The chunk layer (pngChunks.ts) has already refused malformed or oversized input; here a chunk
 * that does not parse simply does not count, and the next source is tried.
 */
import { readPngText } from './pngChunks';
import { type A1111Params, parseA1111, recipeFromA1111, type SumiLora, type SumiRecipe, zSumiRecipe } from './infotext';
import type { SamplerName } from '@contract';

export type RecallSource = 'sumi' | 'a1111' | 'invokeai' | 'comfyui' | 'fooocus' | 'unknown';

export interface Recall {
  source: RecallSource;
  recipe: Partial<SumiRecipe>;
  /** Every text chunk by keyword (the first one when a keyword repeats), plus what the source parsed to. */
  raw: { text: Record<string, string>; parsed?: unknown };
}

type Json = unknown;
type JsonObject = Record<string, Json>;

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string | undefined): Json {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function asNumber(value: Json): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function asInt(value: Json): number | undefined {
  const n = asNumber(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

function asString(value: Json): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function setIfDefined<K extends keyof SumiRecipe>(
  recipe: Partial<SumiRecipe>,
  key: K,
  value: SumiRecipe[K] | undefined,
) {
  if (value !== undefined) recipe[key] = value;
}

function validSeed(seed: number | undefined): number | undefined {
  return seed !== undefined && seed >= 0 && seed <= 4294967295 ? seed : undefined;
}

/** A checkpoint or LoRA file name without folders or extension. */
function stem(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base.replace(/\.(safetensors|ckpt|pt|pth|bin|onnx|gguf)$/i, '');
}

// ---------------------------------------------------------------------------------------------
// InvokeAI
// ---------------------------------------------------------------------------------------------

/** InvokeAI scheduler names (invokeai/backend/stable_diffusion/schedulers) that we can run. */
const INVOKE_SCHEDULERS: Record<string, SamplerName> = {
  pndm: 'pndm',
  ddim: 'ddim',
  ddpm: 'ddpm',
  euler: 'euler',
  euler_a: 'euler_a',
  dpmpp_2m: 'dpmpp_2m',
  dpmpp_2m_k: 'dpmpp_2m_karras',
  dpmpp_sde_k: 'dpmpp_sde_karras',
  heun: 'heun',
  lms: 'lms',
  lcm: 'lcm',
  unipc: 'unipc',
};

export function recipeFromInvokeAI(meta: JsonObject): Partial<SumiRecipe> {
  const recipe: Partial<SumiRecipe> = {};
  const mode = asString(meta['generation_mode']) ?? '';
  recipe.mode = /img2img|inpaint|outpaint/.test(mode) ? 'img2img' : 'txt2img';
  setIfDefined(recipe, 'prompt', asString(meta['positive_prompt']));
  setIfDefined(recipe, 'negativePrompt', asString(meta['negative_prompt']));
  setIfDefined(recipe, 'seed', validSeed(asInt(meta['seed'])));
  setIfDefined(recipe, 'width', asInt(meta['width']));
  setIfDefined(recipe, 'height', asInt(meta['height']));
  setIfDefined(recipe, 'steps', asInt(meta['steps']));
  setIfDefined(recipe, 'cfg', asNumber(meta['cfg_scale']));
  const scheduler = asString(meta['scheduler']);
  if (scheduler !== undefined) setIfDefined(recipe, 'sampler', INVOKE_SCHEDULERS[scheduler]);
  if (recipe.mode === 'img2img') setIfDefined(recipe, 'strength', asNumber(meta['strength']));
  const model = meta['model'];
  if (isObject(model)) {
    recipe.model = { name: asString(model['name']) ?? asString(model['model_name']) ?? '' };
  }
  const loras = meta['loras'];
  if (Array.isArray(loras)) {
    recipe.loras = loras.flatMap((entry): SumiLora[] => {
      if (!isObject(entry)) return [];
      const m = isObject(entry['model']) ? entry['model'] : isObject(entry['lora']) ? entry['lora'] : {};
      const name = asString(m['name']) ?? asString(m['model_name']);
      return name ? [{ name, weight: asNumber(entry['weight']) ?? 1 }] : [];
    });
  }
  const rand = asString(meta['rand_device']);
  if (rand === 'cpu') recipe.rng = 'torch-cpu';
  const clipSkip = asInt(meta['clip_skip']);
  if (clipSkip !== undefined && clipSkip > 0) recipe.clipSkip = clipSkip + 1;
  return recipe;
}

// ---------------------------------------------------------------------------------------------
// ComfyUI
// ---------------------------------------------------------------------------------------------

interface ComfyNode {
  class_type: string;
  inputs: JsonObject;
}
type ComfyGraph = Map<string, ComfyNode>;

function comfyGraph(prompt: Json): ComfyGraph | undefined {
  if (!isObject(prompt)) return undefined;
  const graph: ComfyGraph = new Map();
  for (const [id, node] of Object.entries(prompt)) {
    if (isObject(node) && typeof node['class_type'] === 'string' && isObject(node['inputs'])) {
      graph.set(id, { class_type: node['class_type'], inputs: node['inputs'] });
    }
  }
  return graph.size > 0 ? graph : undefined;
}

/** A link input is `[nodeId, outputIndex]`. */
function linkTarget(value: Json): string | undefined {
  if (Array.isArray(value) && value.length === 2 && (typeof value[0] === 'string' || typeof value[0] === 'number')) {
    return String(value[0]);
  }
  return undefined;
}

const MAX_HOPS = 64;

/** A literal input, or one fed by a primitive node (its `value`, `seed`, `text`, `string` or `int`). */
function literal(graph: ComfyGraph, value: Json, hops = 0): Json {
  const target = linkTarget(value);
  if (target === undefined) return value;
  const node = graph.get(target);
  if (!node || hops > MAX_HOPS) return undefined;
  for (const key of ['value', 'seed', 'noise_seed', 'text', 'string', 'int', 'float']) {
    if (key in node.inputs) return literal(graph, node.inputs[key], hops + 1);
  }
  return undefined;
}

/** Inputs that carry conditioning through nodes that change it without replacing its text. */
const CONDITIONING_INPUTS = ['conditioning', 'conditioning_to', 'conditioning_1', 'base_positive'];

/** Follows a `positive`/`negative` link to the text that was encoded. */
function conditioningText(graph: ComfyGraph, value: Json, side: 'positive' | 'negative'): string | undefined {
  let target = linkTarget(value);
  const seen = new Set<string>();
  while (target !== undefined && !seen.has(target) && seen.size < MAX_HOPS) {
    seen.add(target);
    const node = graph.get(target);
    if (!node) return undefined;
    const text = literal(graph, node.inputs['text']);
    if (typeof text === 'string') return text;
    const g = literal(graph, node.inputs['text_g']);
    if (typeof g === 'string') return g;
    const next =
      CONDITIONING_INPUTS.map((k) => node.inputs[k]).find((v) => linkTarget(v) !== undefined) ??
      // ControlNetApplyAdvanced and friends pass both sides through.
      node.inputs[side];
    target = linkTarget(next);
  }
  return undefined;
}

/** Follows a latent link back to a node that states width and height (EmptyLatentImage and kin). */
function latentSize(graph: ComfyGraph, value: Json): { width?: number; height?: number; fromImage: boolean } {
  let target = linkTarget(value);
  const seen = new Set<string>();
  while (target !== undefined && !seen.has(target) && seen.size < MAX_HOPS) {
    seen.add(target);
    const node = graph.get(target);
    if (!node) break;
    const width = asInt(literal(graph, node.inputs['width']));
    const height = asInt(literal(graph, node.inputs['height']));
    if (width !== undefined && height !== undefined) return { width, height, fromImage: false };
    if (node.class_type.startsWith('VAEEncode')) return { fromImage: true };
    target = linkTarget(node.inputs['samples'] ?? node.inputs['latent_image'] ?? node.inputs['latent']);
  }
  return { fromImage: false };
}

/** Follows the `model` link through LoRA loaders to the checkpoint. */
function modelChain(graph: ComfyGraph, value: Json): { model?: string; loras: SumiLora[] } {
  const loras: SumiLora[] = [];
  let target = linkTarget(value);
  const seen = new Set<string>();
  while (target !== undefined && !seen.has(target) && seen.size < MAX_HOPS) {
    seen.add(target);
    const node = graph.get(target);
    if (!node) break;
    const ckpt = asString(literal(graph, node.inputs['ckpt_name'] ?? node.inputs['unet_name']));
    if (ckpt !== undefined) return { model: stem(ckpt), loras: loras.reverse() };
    const lora = asString(literal(graph, node.inputs['lora_name']));
    if (lora !== undefined) {
      loras.push({ name: stem(lora), weight: asNumber(literal(graph, node.inputs['strength_model'])) ?? 1 });
    }
    target = linkTarget(node.inputs['model']);
  }
  return { loras: loras.reverse() };
}

/** ComfyUI sampler_name + scheduler -> ours. */
export function samplerFromComfy(samplerName: string, scheduler: string): SamplerName | undefined {
  const karras = scheduler === 'karras';
  const plain = scheduler === 'normal' || scheduler === 'simple' || scheduler === 'sgm_uniform' || scheduler === '';
  const base = samplerName.replace(/_gpu$/, '');
  if (base === 'dpmpp_2m') return karras ? 'dpmpp_2m_karras' : plain ? 'dpmpp_2m' : undefined;
  if (base === 'dpmpp_sde') return karras ? 'dpmpp_sde_karras' : undefined;
  if (!plain && !(scheduler === 'ddim_uniform' && base === 'ddim')) return undefined;
  const map: Record<string, SamplerName> = {
    euler: 'euler',
    euler_ancestral: 'euler_a',
    heun: 'heun',
    lms: 'lms',
    ddim: 'ddim',
    ddpm: 'ddpm',
    lcm: 'lcm',
    uni_pc: 'unipc',
  };
  return map[base];
}

const SAMPLER_CLASSES = ['KSampler', 'KSamplerAdvanced'];

export function recipeFromComfy(prompt: Json): Partial<SumiRecipe> | undefined {
  const graph = comfyGraph(prompt);
  if (!graph) return undefined;
  const samplers = [...graph.entries()]
    .filter(([, n]) => SAMPLER_CLASSES.includes(n.class_type))
    .sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b));
  if (samplers.length === 0) return undefined;
  // With a hires or refiner pass there are several samplers: the one that starts from an empty
  // latent is the base pass, which holds the seed and size a user means.
  const chosen =
    samplers.find(([, n]) => latentSize(graph, n.inputs['latent_image']).width !== undefined) ?? samplers[0];
  if (!chosen) return undefined;
  const inputs = chosen[1].inputs;

  const recipe: Partial<SumiRecipe> = {};
  setIfDefined(recipe, 'prompt', conditioningText(graph, inputs['positive'], 'positive'));
  setIfDefined(recipe, 'negativePrompt', conditioningText(graph, inputs['negative'], 'negative'));
  setIfDefined(recipe, 'seed', validSeed(asInt(literal(graph, inputs['seed'] ?? inputs['noise_seed']))));
  setIfDefined(recipe, 'steps', asInt(literal(graph, inputs['steps'])));
  setIfDefined(recipe, 'cfg', asNumber(literal(graph, inputs['cfg'])));
  const samplerName = asString(literal(graph, inputs['sampler_name']));
  const scheduler = asString(literal(graph, inputs['scheduler'])) ?? '';
  if (samplerName !== undefined) setIfDefined(recipe, 'sampler', samplerFromComfy(samplerName, scheduler));
  const size = latentSize(graph, inputs['latent_image']);
  setIfDefined(recipe, 'width', size.width);
  setIfDefined(recipe, 'height', size.height);
  const denoise = asNumber(literal(graph, inputs['denoise']));
  if (size.fromImage) {
    recipe.mode = 'img2img';
    if (denoise !== undefined && denoise > 0 && denoise <= 1) recipe.strength = denoise;
  } else {
    recipe.mode = 'txt2img';
  }
  const chain = modelChain(graph, inputs['model']);
  if (chain.model !== undefined) recipe.model = { name: chain.model };
  recipe.loras = chain.loras;
  return recipe;
}

// ---------------------------------------------------------------------------------------------
// Fooocus
// ---------------------------------------------------------------------------------------------

export function recipeFromFooocus(meta: JsonObject): Partial<SumiRecipe> {
  const recipe: Partial<SumiRecipe> = { mode: 'txt2img' };
  setIfDefined(recipe, 'prompt', asString(meta['prompt']));
  setIfDefined(recipe, 'negativePrompt', asString(meta['negative_prompt']));
  setIfDefined(recipe, 'seed', validSeed(asInt(meta['seed'])));
  setIfDefined(recipe, 'steps', asInt(meta['steps']));
  setIfDefined(recipe, 'cfg', asNumber(meta['guidance_scale']));
  // "resolution" is a Python tuple's str(): "(1152, 896)" or "('1152', '896')".
  const resolution = /^\(\s*'?(\d+)'?\s*,\s*'?(\d+)'?\s*\)$/.exec(asString(meta['resolution']) ?? '');
  if (resolution) {
    recipe.width = Number(resolution[1]);
    recipe.height = Number(resolution[2]);
  }
  const sampler = asString(meta['sampler']);
  if (sampler !== undefined)
    setIfDefined(recipe, 'sampler', samplerFromComfy(sampler, asString(meta['scheduler']) ?? ''));
  const model = asString(meta['base_model']);
  if (model !== undefined) recipe.model = { name: stem(model) };
  const loras: SumiLora[] = [];
  for (const [key, value] of Object.entries(meta)) {
    const combined = /^lora_combined_\d+$/.test(key) ? asString(value) : undefined;
    if (combined === undefined) continue;
    const parts = combined.split(' : ');
    const [name, weight] = parts.length === 3 ? [parts[1], parts[2]] : [parts[0], parts[1]];
    if (parts.length === 3 && parts[0] !== 'True') continue;
    if (name && name !== 'None') loras.push({ name: stem(name), weight: asNumber(weight) ?? 1 });
  }
  recipe.loras = loras;
  return recipe;
}

// ---------------------------------------------------------------------------------------------
// Recall
// ---------------------------------------------------------------------------------------------

/**
 * Reads a PNG's generation metadata. Sumi's own `sumi` chunk wins; then InvokeAI, ComfyUI, Fooocus
 * and A1111/Forge. Throws AppError('VALIDATION') only for a file that is not a sound PNG.
 */
export function recallFromPng(png: Buffer): Recall {
  const text: Record<string, string> = {};
  for (const chunk of readPngText(png)) {
    if (!(chunk.keyword in text)) text[chunk.keyword] = chunk.text;
  }

  const sumi = zSumiRecipe.safeParse(parseJson(text['sumi']));
  if (sumi.success) return { source: 'sumi', recipe: sumi.data, raw: { text, parsed: sumi.data } };

  const invoke = parseJson(text['invokeai_metadata']);
  if (isObject(invoke))
    return { source: 'invokeai', recipe: recipeFromInvokeAI(invoke), raw: { text, parsed: invoke } };

  const comfyPrompt = parseJson(text['prompt']);
  const comfy = recipeFromComfy(comfyPrompt);
  if (comfy) return { source: 'comfyui', recipe: comfy, raw: { text, parsed: comfyPrompt } };

  const parameters = text['parameters'];
  const fooocusJson = parseJson(parameters);
  if (isObject(fooocusJson) && (text['fooocus_scheme'] !== undefined || 'full_prompt' in fooocusJson)) {
    return { source: 'fooocus', recipe: recipeFromFooocus(fooocusJson), raw: { text, parsed: fooocusJson } };
  }

  if (parameters !== undefined && parameters.trim() !== '') {
    const params: A1111Params = parseA1111(parameters);
    const source = text['fooocus_scheme'] === 'a1111' ? 'fooocus' : 'a1111';
    return { source, recipe: recipeFromA1111(params), raw: { text, parsed: params } };
  }

  return { source: 'unknown', recipe: {}, raw: { text } };
}
