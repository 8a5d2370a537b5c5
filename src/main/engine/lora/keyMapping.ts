/**
 * LoRA tensor names -> the diffusers module they patch. Four key families exist in the wild:
 *
 * - kohya / A1111 / LyCORIS LoCon: `lora_unet_<module path with _ for .>.lora_down.weight`, `.lora_up.weight`,
 *   `.alpha`; `lora_te_` (SD 1.x/2.x text encoder), `lora_te1_` / `lora_te2_` (SDXL's two).
 * - kohya with SGM/LDM UNet names (SDXL trainers, converted checkpoints): `lora_unet_input_blocks_4_1_...`,
 *   `middle_block_1_...`, `output_blocks_2_2_conv`, resnets' `in_layers_2` / `out_layers_3` / `emb_layers_1` /
 *   `skip_connection`, mapped onto diffusers names the way diffusers' `_maybe_map_sgm_blocks_to_diffusers`
 *   and `_convert_unet_lora_key` do (with `layers_per_block` from the model), plus upsamplers at index 1 of
 *   attention-less output blocks, which diffusers' table misses.
 * - diffusers: `unet.<path>.lora.down.weight` / `.lora.up.weight`, the attention-processor form
 *   `<path>.attn1.processor.to_q_lora.down.weight` (`to_out_lora` is `to_out.0`), text encoders'
 *   `.lora_linear_layer.down.weight`, alphas as `unet.<path>.alpha`.
 * - PEFT: `<prefix>.<path>.lora_A.weight` / `.lora_B.weight` (prefix `unet.`, `text_encoder.`, `text_encoder_2.`,
 *   `base_model.model.` or none); alphas in the safetensors metadata `lora_adapter_metadata` JSON
 *   (`lora_alpha`, `alpha_pattern`, optionally prefixed per component, e.g. `unet.lora_alpha`).
 *
 * kohya names lose the difference between `.` and `_`, so a kohya module is matched against the model by its
 * flattened name (`flatName`); `modulePath` is the reconstruction, exact for every name diffusers' SD
 * models use.
 */
import type { LoraTensors } from './LoraTensors';

export type LoraTarget = 'unet' | 'text_encoder' | 'text_encoder_2';
export type LoraKeyFormat = 'kohya' | 'kohya-sgm' | 'diffusers' | 'peft';
export type LoraRole = 'down' | 'up' | 'alpha';

export interface ParsedLoraKey {
  key: string;
  format: LoraKeyFormat;
  target: LoraTarget;
  /** diffusers module path: `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  modulePath: string;
  role: LoraRole;
}

export interface KeyMappingOptions {
  /** The UNet's `layers_per_block`, needed to place SGM block numbers (2 for every SD 1.x/2.x/XL). */
  layersPerBlock?: number;
}

/** The name with every `.` turned into `_`: what kohya keys hold and what matching compares. */
export function flatName(modulePath: string): string {
  return modulePath.replace(/\./g, '_');
}

const KOHYA_PREFIXES: readonly [string, LoraTarget][] = [
  ['lora_unet_', 'unet'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te_', 'text_encoder'],
];

const KOHYA_SUFFIXES: readonly [string, LoraRole][] = [
  ['lora_down.weight', 'down'],
  ['lora_up.weight', 'up'],
  ['alpha', 'alpha'],
];

/**
 * Parses one tensor name; null for names that are not a LoRA down/up/alpha (LoHa `hada_*`, LoKr `lokr_*`,
 * DoRA `dora_scale`, LoCon's Tucker `lora_mid`, full `diff` weights, text-inversion vectors, unknown).
 */
export function parseLoraKey(key: string, options: KeyMappingOptions = {}): ParsedLoraKey | null {
  return parseKohya(key, options) ?? parseDiffusers(key);
}

function parseKohya(key: string, options: KeyMappingOptions): ParsedLoraKey | null {
  const prefix = KOHYA_PREFIXES.find(([p]) => key.startsWith(p));
  if (!prefix) return null;
  const dot = key.indexOf('.');
  if (dot < 0) return null;
  const suffix = KOHYA_SUFFIXES.find(([s]) => key.slice(dot + 1) === s);
  if (!suffix) return null;
  const [prefixText, target] = prefix;
  const flat = key.slice(prefixText.length, dot);
  if (flat === '') return null;
  if (target === 'unet') {
    const sgm = sgmToDiffusers(flat, options.layersPerBlock ?? 2);
    if (sgm) return { key, format: 'kohya-sgm', target, modulePath: sgm, role: suffix[1] };
  }
  return { key, format: 'kohya', target, modulePath: unflatten(flat), role: suffix[1] };
}

/**
 * Compound names diffusers and transformers use, as `_`-split tokens; everything else is split at `_`.
 * Longest first, so `conv_norm_out` wins over `conv`.
 */
const COMPOUNDS: readonly string[][] = [
  'final_layer_norm',
  'conv_norm_out',
  'time_emb_proj',
  'add_k_proj',
  'add_v_proj',
  'down_blocks',
  'up_blocks',
  'mid_block',
  'transformer_blocks',
  'to_q',
  'to_k',
  'to_v',
  'to_out',
  'proj_in',
  'proj_out',
  'conv_shortcut',
  'conv_in',
  'conv_out',
  'time_embedding',
  'linear_1',
  'linear_2',
  'cond_proj',
  'add_embedding',
  'text_model',
  'self_attn',
  'q_proj',
  'k_proj',
  'v_proj',
  'out_proj',
  'layer_norm1',
  'layer_norm2',
  'token_embedding',
  'position_embedding',
  'text_projection',
  'hidden_projection',
]
  .map((name) => name.split('_'))
  .sort((a, b) => b.length - a.length);

/** `down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q` -> `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
export function unflatten(flat: string): string {
  const tokens = flat.split('_');
  const parts: string[] = [];
  for (let i = 0; i < tokens.length;) {
    const compound = COMPOUNDS.find((c) => c.every((t, j) => tokens[i + j] === t));
    const length = compound ? compound.length : 1;
    parts.push(tokens.slice(i, i + length).join('_'));
    i += length;
  }
  return parts.join('.');
}

const SGM_RESNET: Record<string, string> = {
  in_layers_2: 'conv1',
  out_layers_3: 'conv2',
  emb_layers_1: 'time_emb_proj',
  skip_connection: 'conv_shortcut',
};

/** An SGM/LDM UNet module name (flattened) as a diffusers module path, or null when it is not one. */
export function sgmToDiffusers(flat: string, layersPerBlock: number): string | null {
  const group = layersPerBlock + 1;
  const simple: Record<string, string> = {
    input_blocks_0_0: 'conv_in',
    time_embed_0: 'time_embedding.linear_1',
    time_embed_2: 'time_embedding.linear_2',
    label_emb_0_0: 'add_embedding.linear_1',
    label_emb_0_2: 'add_embedding.linear_2',
    out_2: 'conv_out',
  };
  const direct = simple[flat];
  if (direct) return direct;
  const inner = (kind: number, rest: string): string | null => {
    if (kind === 0) {
      const resnet = SGM_RESNET[rest];
      return resnet ? `resnets.%L.${resnet}` : null;
    }
    if (kind === 1) return `attentions.%L.${unflatten(rest)}`;
    return null;
  };

  let m = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(flat);
  if (m) {
    const index = Number(m[1]);
    if (index < 1) return null;
    const block = Math.floor((index - 1) / group);
    const layer = (index - 1) % group;
    if (m[3] === 'op') return `down_blocks.${block}.downsamplers.0.conv`;
    const tail = inner(Number(m[2]), m[3] as string);
    return tail ? `down_blocks.${block}.${tail.replace('%L', String(layer))}` : null;
  }
  m = /^middle_block_(\d+)_(.+)$/.exec(flat);
  if (m) {
    const rest = m[2] as string;
    const index = Number(m[1]);
    if (index === 1) return `mid_block.attentions.0.${unflatten(rest)}`;
    const resnet = SGM_RESNET[rest];
    if (!resnet || (index !== 0 && index !== 2)) return null;
    return `mid_block.resnets.${index / 2}.${resnet}`;
  }
  m = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(flat);
  if (m) {
    const index = Number(m[1]);
    const block = Math.floor(index / group);
    const layer = index % group;
    // The upsampler follows the block's last layer: index 2 after an attention, 1 when there is none.
    if (m[3] === 'conv') return `up_blocks.${block}.upsamplers.0.conv`;
    const tail = inner(Number(m[2]), m[3] as string);
    return tail ? `up_blocks.${block}.${tail.replace('%L', String(layer))}` : null;
  }
  return null;
}

const DIFFUSERS_SUFFIXES: readonly [RegExp, LoraRole, LoraKeyFormat][] = [
  [/\.lora_A(\.default)?\.weight$/, 'down', 'peft'],
  [/\.lora_B(\.default)?\.weight$/, 'up', 'peft'],
  [/\.lora_linear_layer\.down\.weight$/, 'down', 'diffusers'],
  [/\.lora_linear_layer\.up\.weight$/, 'up', 'diffusers'],
  [/\.lora\.down\.weight$/, 'down', 'diffusers'],
  [/\.lora\.up\.weight$/, 'up', 'diffusers'],
  [/_lora\.down\.weight$/, 'down', 'diffusers'],
  [/_lora\.up\.weight$/, 'up', 'diffusers'],
  [/\.lora_down\.weight$/, 'down', 'diffusers'],
  [/\.lora_up\.weight$/, 'up', 'diffusers'],
  [/\.alpha$/, 'alpha', 'diffusers'],
];

const DIFFUSERS_PREFIXES: readonly [string, LoraTarget | null][] = [
  ['text_encoder_2.', 'text_encoder_2'],
  ['text_encoder.', 'text_encoder'],
  ['unet.', 'unet'],
  ['base_model.model.', null],
];

function parseDiffusers(key: string): ParsedLoraKey | null {
  const suffix = DIFFUSERS_SUFFIXES.find(([re]) => re.test(key));
  if (!suffix) return null;
  const [re, role, format] = suffix;
  let path = key.replace(re, '');
  let target: LoraTarget | null = null;
  for (const [prefix, t] of DIFFUSERS_PREFIXES) {
    if (path.startsWith(prefix)) {
      path = path.slice(prefix.length);
      target = t;
      break;
    }
  }
  // Old attention-processor LoRAs: `attn1.processor.to_q_lora.down.weight`.
  path = path.replace(/\.processor\.(to_q|to_k|to_v|to_out)$/, '.$1').replace(/\.to_out$/, '.to_out.0');
  if (path === '' || !/^[\w.]+$/.test(path)) return null;
  target ??= path.startsWith('text_model.') ? 'text_encoder' : 'unet';
  return { key, format, target, modulePath: path, role };
}

/** One patched module: its down (A) and up (B) tensors and its alpha. */
export interface LoraModule {
  target: LoraTarget;
  modulePath: string;
  /** `flatName(modulePath)`, or the kohya name as written (what matching compares). */
  flat: string;
  format: LoraKeyFormat;
  downKey: string;
  upKey: string;
  /** From the `.alpha` tensor or the PEFT metadata; null means alpha = rank (scale 1). */
  alpha: number | null;
}

export interface GroupedLora {
  modules: LoraModule[];
  /** Tensor names that are not part of a complete down/up pair (other network kinds, stray alphas). */
  unsupported: string[];
}

/** Groups a LoRA's tensors into modules; alphas come from `.alpha` tensors, else from PEFT metadata. */
export function groupLoraModules(tensors: LoraTensors, options: KeyMappingOptions = {}): GroupedLora {
  const groups = new Map<string, { parsed: ParsedLoraKey; flat: string; down?: string; up?: string; alpha?: string }>();
  const unsupported: string[] = [];
  for (const key of tensors.keys()) {
    const parsed = parseLoraKey(key, options);
    if (!parsed) {
      unsupported.push(key);
      continue;
    }
    const flat =
      parsed.format === 'kohya'
        ? key.slice(0, key.indexOf('.')).replace(/^lora_(unet|te1|te2|te)_/, '')
        : flatName(parsed.modulePath);
    const id = `${parsed.target}|${flat}`;
    let group = groups.get(id);
    if (!group) {
      group = { parsed, flat };
      groups.set(id, group);
    }
    if (group[parsed.role] !== undefined) {
      unsupported.push(key);
      continue;
    }
    group[parsed.role] = key;
  }
  const metadataAlpha = peftMetadataAlpha(tensors.metadata);
  const modules: LoraModule[] = [];
  for (const group of groups.values()) {
    if (group.down === undefined || group.up === undefined) {
      for (const key of [group.down, group.up, group.alpha]) if (key !== undefined) unsupported.push(key);
      continue;
    }
    const { target, modulePath, format } = group.parsed;
    let alpha: number | null = null;
    if (group.alpha !== undefined) {
      const value = tensors.get(group.alpha).data[0];
      if (value !== undefined && Number.isFinite(value)) alpha = value;
    } else {
      alpha = metadataAlpha(target, modulePath);
    }
    modules.push({ target, modulePath, flat: group.flat, format, downKey: group.down, upKey: group.up, alpha });
  }
  return { modules, unsupported };
}

/**
 * PEFT keeps alpha in its LoraConfig, which diffusers stores as JSON in the safetensors metadata
 * (`lora_adapter_metadata`), per component when saved from a pipeline (`unet.lora_alpha`).
 */
function peftMetadataAlpha(
  metadata: Record<string, string>,
): (target: LoraTarget, modulePath: string) => number | null {
  const raw = metadata.lora_adapter_metadata;
  if (!raw) return () => null;
  let config: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return () => null;
    config = parsed as Record<string, unknown>;
  } catch {
    return () => null;
  }
  const field = (target: LoraTarget, name: string): unknown => config[`${target}.${name}`] ?? config[name];
  return (target, modulePath) => {
    const pattern = field(target, 'alpha_pattern');
    if (pattern && typeof pattern === 'object') {
      for (const [suffix, value] of Object.entries(pattern as Record<string, unknown>)) {
        if (typeof value === 'number' && (modulePath === suffix || modulePath.endsWith(`.${suffix}`))) return value;
      }
    }
    const alpha = field(target, 'lora_alpha');
    return typeof alpha === 'number' ? alpha : null;
  };
}
