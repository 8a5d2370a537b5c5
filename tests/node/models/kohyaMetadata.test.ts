/**
 * LoRA facts from kohya / modelspec metadata, and the base family from tensor shapes when the
 * metadata is missing, on LoRA files written in kohya and diffusers/PEFT key layouts.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  familyFromTensors,
  parseKohyaMetadata,
  parseResolution,
} from '../../../src/main/services/models/kohyaMetadata';
import { readSafetensorsHeader } from '../../../src/main/services/models/safetensors';
import { type TensorSpec, writeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const { dir, cleanup } = makeTempDir('sumi-kohya-');
afterAll(cleanup);

describe('kohya metadata', () => {
  test('an SDXL kohya LoRA: family, resolution, dim/alpha, name and trigger words by total count', () => {
    const tagFrequency = {
      '10_sumichar': { sumichar: 40, ' 1girl': 38, solo: 30, 'red scarf': 12 },
      '5_style': { '1girl': 20, 'ink wash': 25, solo: 1, sumichar: 2 },
    };
    const info = parseKohyaMetadata({
      ss_base_model_version: 'sdxl_base_v1-0',
      ss_v2: 'False',
      ss_resolution: '(1024, 1024)',
      ss_network_dim: '32',
      ss_network_alpha: '16.0',
      ss_output_name: 'sumichar_v2',
      ss_tag_frequency: JSON.stringify(tagFrequency),
    });
    expect(info).toEqual({
      family: 'sdxl',
      familySource: 'ss_base_model_version',
      otherArchitecture: null,
      resolution: { width: 1024, height: 1024 },
      networkDim: 32,
      networkAlpha: 16,
      outputName: 'sumichar_v2',
      // 1girl 58, sumichar 42, solo 31, ink wash 25, red scarf 12.
      triggerWords: ['1girl', 'sumichar', 'solo', 'ink wash', 'red scarf'],
    });
  });

  test('trigger words: the modelspec trigger phrase first, ties in first-seen order, capped', () => {
    const info = parseKohyaMetadata(
      {
        'modelspec.trigger_phrase': 'inkstyle, Sumi-e ',
        ss_tag_frequency: JSON.stringify({ a: { b: 3, a: 3, inkstyle: 9, c: 1 }, z: { 'sumi-e': 1, d: 3 } }),
      },
      { maxTriggerWords: 4 },
    );
    expect(info.triggerWords).toEqual(['inkstyle', 'Sumi-e', 'b', 'a']);
  });

  test('the family from each metadata key, in priority order', () => {
    const family = (m: Record<string, string>) => {
      const { family, familySource } = parseKohyaMetadata(m);
      return [family, familySource];
    };
    expect(family({ ss_base_model_version: 'sd_v1' })).toEqual(['sd1', 'ss_base_model_version']);
    expect(family({ ss_base_model_version: 'sd_v2_768_v', ss_v2: 'True' })).toEqual(['sd2', 'ss_base_model_version']);
    expect(family({ 'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora' })).toEqual([
      'sdxl',
      'modelspec.architecture',
    ]);
    expect(family({ 'modelspec.architecture': 'stable-diffusion-v2-768-v/lora' })).toEqual([
      'sd2',
      'modelspec.architecture',
    ]);
    expect(family({ 'modelspec.architecture': 'stable-diffusion-v1/lora', ss_v2: 'True' })).toEqual([
      'sd1',
      'modelspec.architecture',
    ]);
    expect(family({ ss_v2: 'True' })).toEqual(['sd2', 'ss_v2']);
    expect(family({ ss_v2: 'False', ss_sd_model_name: 'sd_xl_base_1.0.safetensors' })).toEqual(['sd1', 'ss_v2']);
    expect(family({ ss_sd_model_name: 'sd_xl_base_1.0.safetensors' })).toEqual(['sdxl', 'ss_sd_model_name']);
    expect(family({ ss_sd_model_name: 'animagine-xl-2.0.safetensors' })).toEqual(['sdxl', 'ss_sd_model_name']);
    expect(family({ ss_sd_model_name: 'v2-1_768-ema-pruned.ckpt' })).toEqual(['sd2', 'ss_sd_model_name']);
    expect(family({ ss_sd_model_name: 'v1-5-pruned-emaonly.safetensors' })).toEqual(['sd1', 'ss_sd_model_name']);
    expect(family({})).toEqual(['unknown', null]);
  });

  test('an architecture outside SD 1/2/XL is unknown, keeping its name', () => {
    const info = parseKohyaMetadata({ 'modelspec.architecture': 'flux-1-dev/lora', ss_v2: 'False' });
    expect(info.family).toBe('unknown');
    expect(info.otherArchitecture).toBe('flux-1-dev/lora');
  });

  test('malformed values read as absent, never throw', () => {
    const info = parseKohyaMetadata({
      ss_tag_frequency: '{not json',
      ss_network_dim: 'Dynamic',
      ss_network_alpha: '',
      ss_resolution: 'big',
    });
    expect(info).toMatchObject({ triggerWords: [], networkDim: null, networkAlpha: null, resolution: null });
    expect(parseKohyaMetadata({ ss_tag_frequency: '[1, 2]' }).triggerWords).toEqual([]);
    expect(parseKohyaMetadata({ ss_tag_frequency: '{"d": {"x": "many", "y": 2}}' }).triggerWords).toEqual(['y']);
  });

  test('resolutions in the forms trainers write', () => {
    expect(parseResolution('(512, 768)')).toEqual({ width: 512, height: 768 });
    expect(parseResolution('[640,640]')).toEqual({ width: 640, height: 640 });
    expect(parseResolution('1024x1024')).toEqual({ width: 1024, height: 1024 });
    expect(parseResolution('768')).toEqual({ width: 768, height: 768 });
    expect(parseResolution(undefined)).toBeNull();
    expect(parseKohyaMetadata({ 'modelspec.resolution': '1024x768' }).resolution).toEqual({ width: 1024, height: 768 });
  });
});

describe('family from tensor shapes', () => {
  const rank = 2;
  /** One LoRA module: down [rank, inWidth], up [outWidth, rank], alpha, in kohya or PEFT naming. */
  function module(
    name: string,
    inWidth: number,
    outWidth: number,
    layout: 'kohya' | 'peft',
  ): Record<string, TensorSpec> {
    const down: TensorSpec = { dtype: 'F16', shape: [rank, inWidth], data: new Array(rank * inWidth).fill(0.01) };
    const up: TensorSpec = { dtype: 'F16', shape: [outWidth, rank], data: new Array(outWidth * rank).fill(0) };
    if (layout === 'peft') return { [`${name}.lora_A.weight`]: down, [`${name}.lora_B.weight`]: up };
    return {
      [`${name}.lora_down.weight`]: down,
      [`${name}.lora_up.weight`]: up,
      [`${name}.alpha`]: { dtype: 'F32', shape: [], data: [rank] },
    };
  }

  async function familyOf(fileName: string, tensors: Record<string, TensorSpec>) {
    const path = join(dir, fileName);
    writeSafetensors(path, tensors);
    const header = await readSafetensorsHeader(path);
    return familyFromTensors(header.tensors.values());
  }

  test('kohya SD 1.x: cross-attention to_k reads 768-wide embeddings', async () => {
    const result = await familyOf('sd1.safetensors', {
      ...module('lora_te_text_model_encoder_layers_0_self_attn_q_proj', 768, 768, 'kohya'),
      ...module('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', 768, 320, 'kohya'),
      ...module('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k', 320, 320, 'kohya'),
    });
    expect(result.family).toBe('sd1');
    expect(result.evidence).toMatch(/attn2_to_k\.lora_down\.weight reads 768-wide/);
  });

  test('kohya SD 2.x: 1024-wide cross-attention', async () => {
    const result = await familyOf('sd2.safetensors', {
      ...module('lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_k', 1024, 640, 'kohya'),
    });
    expect(result.family).toBe('sd2');
  });

  test('kohya SDXL: 2048-wide cross-attention in SGM block names', async () => {
    const result = await familyOf('sdxl.safetensors', {
      ...module('lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k', 2048, 640, 'kohya'),
      ...module('lora_te1_text_model_encoder_layers_0_self_attn_q_proj', 768, 768, 'kohya'),
      ...module('lora_te2_text_model_encoder_layers_0_self_attn_q_proj', 1280, 1280, 'kohya'),
    });
    expect(result.family).toBe('sdxl');
  });

  test('text-encoder-only LoRAs: lora_te1_/lora_te2_ mean SDXL, lora_te_ width 768 SD1 and 1024 SD2', async () => {
    expect(
      (
        await familyOf(
          'te-xl.safetensors',
          module('lora_te2_text_model_encoder_layers_3_self_attn_v_proj', 1280, 1280, 'kohya'),
        )
      ).family,
    ).toBe('sdxl');
    expect(
      (
        await familyOf(
          'te-1.safetensors',
          module('lora_te_text_model_encoder_layers_3_self_attn_out_proj', 768, 768, 'kohya'),
        )
      ).family,
    ).toBe('sd1');
    const sd2 = await familyOf(
      'te-2.safetensors',
      module('lora_te_text_model_encoder_layers_3_self_attn_k_proj', 1024, 1024, 'kohya'),
    );
    expect(sd2).toEqual({ family: 'sd2', evidence: expect.stringMatching(/1024 wide \(OpenCLIP ViT-H/) });
  });

  test('diffusers/PEFT layout: unet.*.attn2.to_k.lora_A and text_encoder_2', async () => {
    expect(
      (
        await familyOf(
          'peft-sd1.safetensors',
          module('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k', 768, 640, 'peft'),
        )
      ).family,
    ).toBe('sd1');
    expect(
      (
        await familyOf(
          'peft-xl.safetensors',
          module('unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k', 2048, 1280, 'peft'),
        )
      ).family,
    ).toBe('sdxl');
    expect(
      (
        await familyOf(
          'peft-te2.safetensors',
          module('text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj', 1280, 1280, 'peft'),
        )
      ).family,
    ).toBe('sdxl');
  });

  test('nothing recognisable is unknown', async () => {
    const result = await familyOf('odd.safetensors', module('lora_unet_conv_in', 4, 320, 'kohya'));
    expect(result.family).toBe('unknown');
  });
});
