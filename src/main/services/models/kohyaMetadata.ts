/**
 * What a LoRA says about itself: the base family it was trained for, its resolution, network
 * dim/alpha and trigger words, read from the `__metadata__` that kohya sd-scripts (and trainers
 * built on it) write; and, when that metadata is missing, the family read from tensor shapes.
 *
 * Metadata keys (kohya sd-scripts `train_network.py`, `library/sai_model_spec.py`):
 * - `ss_base_model_version`: `sd_v1`, `sd_v2`, `sd_v2_768_v`, `sdxl_base_v1-0`, ...
 * - `modelspec.architecture`: `stable-diffusion-v1/lora`, `stable-diffusion-v2-512/lora`,
 *   `stable-diffusion-v2-768-v/lora`, `stable-diffusion-xl-v1-base/lora`, ...
 * - `ss_v2`: `"True"` / `"False"` (written by the SD 1/2 scripts; SDXL ones write `"False"` too).
 * - `ss_sd_model_name`: the base checkpoint's file name; a weak hint, used last.
 * - `ss_resolution`: `"(512, 512)"`; `modelspec.resolution`: `"1024x1024"`.
 * - `ss_network_dim`, `ss_network_alpha`: numbers as strings (`"Dynamic"` for DyLoRA).
 * - `ss_tag_frequency`: JSON `{ dataset: { tag: count } }`; `modelspec.trigger_phrase`: free text.
 *
 * Key layout (kohya `networks/lora.py`): `lora_unet_<module path with _>` for the UNet,
 * `lora_te_` for the SD 1/2 text encoder, `lora_te1_` / `lora_te2_` for SDXL's two; each module has
 * `.lora_down.weight` [rank, in], `.lora_up.weight` [out, rank] and `.alpha`. Diffusers/PEFT files
 * use `unet.` / `text_encoder.` / `text_encoder_2.` with `.lora_A.weight` [rank, in] and
 * `.lora_B.weight` [out, rank] (older diffusers: `.processor.to_k_lora.down.weight`).
 */
import type { TensorInfo } from './safetensors';

export type BaseFamily = 'sd1' | 'sd2' | 'sdxl' | 'unknown';

export interface KohyaInfo {
  family: BaseFamily;
  /** The metadata key the family came from, or null when none said. */
  familySource: 'ss_base_model_version' | 'modelspec.architecture' | 'ss_v2' | 'ss_sd_model_name' | null;
  /** The raw architecture string when it names something other than SD 1/2/XL (SD3, Flux, ...). */
  otherArchitecture: string | null;
  resolution: { width: number; height: number } | null;
  networkDim: number | null;
  networkAlpha: number | null;
  /** `modelspec.trigger_phrase` parts first, then training tags by total count, most used first. */
  triggerWords: string[];
  /** `ss_output_name`, the name the trainer gave the LoRA. */
  outputName: string | null;
}

export interface KohyaOptions {
  /** How many trigger words to return at most (default 10). */
  maxTriggerWords?: number;
}

/** Reads kohya / modelspec `__metadata__`. Never throws: malformed values read as absent. */
export function parseKohyaMetadata(metadata: Readonly<Record<string, string>>, options: KohyaOptions = {}): KohyaInfo {
  const get = (key: string): string | undefined => (Object.hasOwn(metadata, key) ? metadata[key] : undefined);
  const { family, familySource, otherArchitecture } = familyFromMetadata(get);
  return {
    family,
    familySource,
    otherArchitecture,
    resolution: parseResolution(get('ss_resolution')) ?? parseResolution(get('modelspec.resolution')),
    networkDim: parseNumber(get('ss_network_dim')),
    networkAlpha: parseNumber(get('ss_network_alpha')),
    triggerWords: triggerWords(get('modelspec.trigger_phrase'), get('ss_tag_frequency'), options.maxTriggerWords ?? 10),
    outputName: get('ss_output_name')?.trim() || null,
  };
}

function familyFromMetadata(
  get: (key: string) => string | undefined,
): Pick<KohyaInfo, 'family' | 'familySource' | 'otherArchitecture'> {
  const version = get('ss_base_model_version')?.trim().toLowerCase();
  if (version) {
    if (version.startsWith('sdxl'))
      return { family: 'sdxl', familySource: 'ss_base_model_version', otherArchitecture: null };
    if (version.startsWith('sd_v2'))
      return { family: 'sd2', familySource: 'ss_base_model_version', otherArchitecture: null };
    if (version.startsWith('sd_v1'))
      return { family: 'sd1', familySource: 'ss_base_model_version', otherArchitecture: null };
  }
  const arch = get('modelspec.architecture')?.trim().toLowerCase();
  if (arch) {
    const base = arch.split('/')[0] ?? arch;
    if (base.startsWith('stable-diffusion-xl'))
      return { family: 'sdxl', familySource: 'modelspec.architecture', otherArchitecture: null };
    if (base.startsWith('stable-diffusion-v2'))
      return { family: 'sd2', familySource: 'modelspec.architecture', otherArchitecture: null };
    if (base.startsWith('stable-diffusion-v1'))
      return { family: 'sd1', familySource: 'modelspec.architecture', otherArchitecture: null };
    return { family: 'unknown', familySource: null, otherArchitecture: get('modelspec.architecture') ?? null };
  }
  if (version)
    return { family: 'unknown', familySource: null, otherArchitecture: get('ss_base_model_version') ?? null };
  // `ss_v2` is written by the SD 1/2 scripts only once they know; SDXL files were caught above.
  const v2 = get('ss_v2');
  if (v2 === 'True') return { family: 'sd2', familySource: 'ss_v2', otherArchitecture: null };
  if (v2 === 'False') return { family: 'sd1', familySource: 'ss_v2', otherArchitecture: null };
  const modelName = get('ss_sd_model_name')?.toLowerCase();
  if (modelName) {
    if (/sd_?xl|(^|[^a-z])xl([^a-z]|$)/.test(modelName))
      return { family: 'sdxl', familySource: 'ss_sd_model_name', otherArchitecture: null };
    if (/(v2-?[01]|sd_?2[01]?|2\.[01])/.test(modelName))
      return { family: 'sd2', familySource: 'ss_sd_model_name', otherArchitecture: null };
    if (/(v1-[45]|sd_?1[45]?|1\.[45])/.test(modelName))
      return { family: 'sd1', familySource: 'ss_sd_model_name', otherArchitecture: null };
  }
  return { family: 'unknown', familySource: null, otherArchitecture: null };
}

/** `"(512, 768)"`, `"512,768"`, `"1024x1024"`, `"[640, 640]"` or one number for a square. */
export function parseResolution(value: string | undefined): { width: number; height: number } | null {
  if (!value) return null;
  const numbers = value.match(/\d+/g)?.map(Number) ?? [];
  if (numbers.length === 1 && (numbers[0] as number) > 0)
    return { width: numbers[0] as number, height: numbers[0] as number };
  if (numbers.length === 2 && (numbers[0] as number) > 0 && (numbers[1] as number) > 0) {
    return { width: numbers[0] as number, height: numbers[1] as number };
  }
  return null;
}

function parseNumber(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/**
 * Trigger words: the modelspec trigger phrase's comma-separated parts (the author's own words)
 * first, then tags from `ss_tag_frequency` by their count summed over all datasets, most frequent
 * first, ties in first-seen order. Case-insensitive duplicates are dropped.
 */
export function triggerWords(
  triggerPhrase: string | undefined,
  tagFrequency: string | undefined,
  max: number,
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (word: string): void => {
    const w = word.trim();
    const key = w.toLowerCase();
    if (!w || seen.has(key) || out.length >= max) return;
    seen.add(key);
    out.push(w);
  };
  for (const part of (triggerPhrase ?? '').split(',')) add(part);
  for (const tag of tagsByCount(tagFrequency)) add(tag);
  return out;
}

function tagsByCount(tagFrequency: string | undefined): string[] {
  if (!tagFrequency) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(tagFrequency);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return [];
  const totals = new Map<string, { tag: string; count: number; order: number }>();
  for (const dataset of Object.values(parsed)) {
    if (typeof dataset !== 'object' || dataset === null || Array.isArray(dataset)) continue;
    for (const [rawTag, count] of Object.entries(dataset as Record<string, unknown>)) {
      const tag = rawTag.trim();
      if (!tag || typeof count !== 'number' || !Number.isFinite(count)) continue;
      const key = tag.toLowerCase();
      const entry = totals.get(key);
      if (entry) entry.count += count;
      else totals.set(key, { tag, count, order: totals.size });
    }
  }
  return [...totals.values()].sort((a, b) => b.count - a.count || a.order - b.order).map((e) => e.tag);
}

// ---------------------------------------------------------------------------------------------
// Family from tensor shapes
// ---------------------------------------------------------------------------------------------

export interface ShapeFamily {
  family: BaseFamily;
  /** What decided it, for the UI and logs: a tensor name and the width seen, or why nothing did. */
  evidence: string;
}

/** Input width of a LoRA module's down projection, or null when `t` is not one. */
function downInputWidth(t: TensorInfo): number | null {
  const isDown = /(\.lora_down\.weight|\.lora_A\.weight|_lora\.down\.weight|\.lora\.down\.weight)$/.test(t.name);
  return isDown && t.shape.length >= 2 ? (t.shape[1] as number) : null;
}

/** Output width of a LoRA module's up projection, or null when `t` is not one. */
function upOutputWidth(t: TensorInfo): number | null {
  const isUp = /(\.lora_up\.weight|\.lora_B\.weight|_lora\.up\.weight|\.lora\.up\.weight)$/.test(t.name);
  return isUp && t.shape.length >= 2 ? (t.shape[0] as number) : null;
}

const CROSS_ATTN_TO_K = /attn2[._](processor[._])?to_k([._]lora)?[._]/;
const TEXT_ATTENTION = /self_attn[._](q|k|v|out)_proj[._]/;

/**
 * The base family of a LoRA from its tensors alone, in kohya or diffusers/PEFT layout. In order:
 * the UNet's cross-attention `to_k` input width is the text-embedding width (2048 SDXL, 1024 SD2,
 * 768 SD1); SDXL's text-encoder keys (`lora_te1_` / `lora_te2_` / `text_encoder_2.`) mean SDXL; the text
 * encoder's attention width (768 SD1 CLIP-L, 1024 SD2 OpenCLIP-H).
 */
export function familyFromTensors(tensors: Iterable<TensorInfo>): ShapeFamily {
  const list = [...tensors];
  for (const t of list) {
    if (!CROSS_ATTN_TO_K.test(t.name)) continue;
    const width = downInputWidth(t);
    const family = width === 2048 ? 'sdxl' : width === 1024 ? 'sd2' : width === 768 ? 'sd1' : null;
    if (family) return { family, evidence: `${t.name} reads ${width}-wide text embeddings` };
  }
  const sdxlEncoder = list.find((t) => /^(lora_te1_|lora_te2_|text_encoder_2\.)/.test(t.name));
  if (sdxlEncoder) return { family: 'sdxl', evidence: `${sdxlEncoder.name} uses SDXL's two-text-encoder layout` };
  for (const t of list) {
    const isTextEncoder = t.name.startsWith('lora_te_') || t.name.startsWith('text_encoder.');
    if (!isTextEncoder || !TEXT_ATTENTION.test(t.name)) continue;
    const width = downInputWidth(t) ?? upOutputWidth(t);
    if (width === 768) return { family: 'sd1', evidence: `${t.name} is 768 wide (CLIP ViT-L, SD 1.x)` };
    if (width === 1024) return { family: 'sd2', evidence: `${t.name} is 1024 wide (OpenCLIP ViT-H, SD 2.x)` };
  }
  return { family: 'unknown', evidence: 'no cross-attention or text-encoder LoRA tensor of a known width' };
}
