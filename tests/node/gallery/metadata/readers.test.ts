import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError } from '@main/services/AppError';
import { formatInfotext, type SumiRecipe } from '@main/services/gallery/metadata/infotext';
import { type NewTextChunk, withTextChunks } from '@main/services/gallery/metadata/pngChunks';
import { recallFromPng, recipeFromComfy } from '@main/services/gallery/metadata/readers';
import { tinyPng } from './tinyPng';

function sample(name: string): string {
  return readFileSync(new URL(`./samples/${name}`, import.meta.url), 'utf8');
}

function pngWith(chunks: NewTextChunk[]): Buffer {
  return withTextChunks(tinyPng(8, 8), chunks);
}

const recipe: SumiRecipe = {
  mode: 'txt2img',
  prompt: 'an ink painting of a heron',
  negativePrompt: 'photo',
  seed: 31337,
  sampler: 'dpmpp_2m_karras',
  steps: 24,
  cfg: 6,
  width: 640,
  height: 448,
  model: { name: 'demo' },
  loras: [],
  rng: 'fast',
  appVersion: '0.1.0',
};

describe('recallFromPng', () => {
  it("prefers Sumi's own iTXt chunk over the infotext written beside it", () => {
    const png = pngWith([
      { keyword: 'parameters', text: formatInfotext({ ...recipe, seed: 1 }), kind: 'tEXt' },
      { keyword: 'sumi', text: JSON.stringify(recipe), kind: 'iTXt', compressed: true },
    ]);
    const recall = recallFromPng(png);
    expect(recall.source).toBe('sumi');
    expect(recall.recipe).toEqual(recipe);
    expect(Object.keys(recall.raw.text)).toEqual(['parameters', 'sumi']);
  });

  it('falls back to the infotext when the sumi chunk does not validate', () => {
    const png = pngWith([
      { keyword: 'sumi', text: '{"prompt": 3}', kind: 'iTXt' },
      { keyword: 'parameters', text: formatInfotext(recipe), kind: 'tEXt' },
    ]);
    const recall = recallFromPng(png);
    expect(recall.source).toBe('a1111');
    expect(recall.recipe).toEqual(recipe);
  });

  it('reads an A1111 infotext', () => {
    const recall = recallFromPng(
      pngWith([{ keyword: 'parameters', text: sample('a1111/01-basic-1.9.txt'), kind: 'tEXt' }]),
    );
    expect(recall.source).toBe('a1111');
    expect(recall.recipe).toMatchObject({
      prompt: 'masterpiece, best quality, a lighthouse on a cliff at dusk, dramatic clouds, volumetric light',
      negativePrompt: 'lowres, bad anatomy, blurry',
      seed: 1234567890,
      width: 512,
      height: 768,
      steps: 25,
      cfg: 7,
      sampler: 'dpmpp_2m_karras',
      model: { name: 'v1-5-pruned-emaonly', hash: '6ce0161689' },
    });
  });

  it('reads InvokeAI metadata: prompt, seed, size, scheduler, model, LoRAs', () => {
    const recall = recallFromPng(
      pngWith([{ keyword: 'invokeai_metadata', text: sample('invokeai_metadata.json'), kind: 'tEXt' }]),
    );
    expect(recall.source).toBe('invokeai');
    expect(recall.recipe).toEqual({
      mode: 'txt2img',
      prompt: 'a cozy cabin in a snowy forest, warm light in the windows, photograph',
      negativePrompt: 'blurry, cartoon',
      seed: 2849610457,
      width: 768,
      height: 512,
      steps: 30,
      cfg: 7.5,
      sampler: 'dpmpp_2m_karras',
      model: { name: 'Dreamshaper 8' },
      loras: [{ name: 'more_details', weight: 0.6 }],
      rng: 'torch-cpu',
    });
  });

  it('reads a ComfyUI API graph through a LoRA loader and a conditioning pass-through node', () => {
    const workflow = JSON.stringify({ last_node_id: 11, nodes: [] });
    const recall = recallFromPng(
      pngWith([
        { keyword: 'prompt', text: sample('comfyui_prompt.json'), kind: 'tEXt' },
        { keyword: 'workflow', text: workflow, kind: 'tEXt' },
      ]),
    );
    expect(recall.source).toBe('comfyui');
    expect(recall.recipe).toEqual({
      mode: 'txt2img',
      prompt: 'beautiful scenery nature glass bottle landscape, , purple galaxy bottle,',
      negativePrompt: 'text, watermark',
      seed: 894771201,
      steps: 20,
      cfg: 8,
      sampler: 'dpmpp_2m_karras',
      width: 512,
      height: 768,
      model: { name: 'v1-5-pruned-emaonly' },
      loras: [{ name: 'pixel-art-xl', weight: 0.75 }],
    });
  });

  it('ComfyUI: an img2img graph, a KSamplerAdvanced, a seed from a primitive node, a seed too large for us', () => {
    const graph = {
      '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sdxl.safetensors' } },
      '2': { class_type: 'CLIPTextEncode', inputs: { text: ['6', 0], clip: ['1', 1] } },
      '3': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['1', 1] } },
      '4': { class_type: 'VAEEncode', inputs: { pixels: ['9', 0], vae: ['1', 2] } },
      '5': {
        class_type: 'KSamplerAdvanced',
        inputs: {
          noise_seed: ['7', 0],
          steps: 30,
          cfg: 5.5,
          sampler_name: 'euler_ancestral',
          scheduler: 'normal',
          model: ['1', 0],
          positive: ['2', 0],
          negative: ['3', 0],
          latent_image: ['4', 0],
        },
      },
      '6': { class_type: 'PrimitiveString', inputs: { value: 'a lighthouse' } },
      '7': { class_type: 'PrimitiveInt', inputs: { value: 123 } },
    };
    expect(recipeFromComfy(graph)).toMatchObject({
      mode: 'img2img',
      prompt: 'a lighthouse',
      negativePrompt: '',
      seed: 123,
      sampler: 'euler_a',
      model: { name: 'sdxl' },
    });
    const big = { ...graph, '7': { class_type: 'PrimitiveInt', inputs: { value: 2 ** 40 } } };
    expect(recipeFromComfy(big)?.seed).toBeUndefined();
  });

  it('reads Fooocus JSON parameters', () => {
    const recall = recallFromPng(
      pngWith([
        { keyword: 'parameters', text: sample('fooocus_parameters.json'), kind: 'tEXt' },
        { keyword: 'fooocus_scheme', text: 'fooocus', kind: 'tEXt' },
      ]),
    );
    expect(recall.source).toBe('fooocus');
    expect(recall.recipe).toEqual({
      mode: 'txt2img',
      prompt: 'an astronaut riding a horse on mars',
      negativePrompt: '',
      seed: 4064128137,
      steps: 30,
      cfg: 4,
      width: 1152,
      height: 896,
      model: { name: 'juggernautXL_v8Rundiffusion' },
      loras: [{ name: 'sd_xl_offset_example-lora_1.0', weight: 0.1 }],
    });
  });

  it('says unknown for a PNG with no generation metadata, and refuses a non-PNG', () => {
    expect(recallFromPng(tinyPng()).source).toBe('unknown');
    expect(() => recallFromPng(Buffer.from('GIF89a....'))).toThrow(AppError);
  });
});
