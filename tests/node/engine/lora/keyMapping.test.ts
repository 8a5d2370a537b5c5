/**
 * LoRA key names from kohya, SGM-named kohya, diffusers and PEFT files map onto diffusers module paths.
 */
import { describe, expect, test } from 'vitest';
import { groupLoraModules, parseLoraKey, sgmToDiffusers, unflatten } from '../../../../src/main/engine/lora/keyMapping';
import { memoryLoraTensors, type LoraTensor } from '../../../../src/main/engine/lora/LoraTensors';

const tensor = (dims: number[], value = 0.25): LoraTensor => ({
  dims,
  data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value),
});

describe('parseLoraKey', () => {
  test('kohya UNet and text-encoder keys', () => {
    expect(
      parseLoraKey('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight'),
    ).toEqual({
      key: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
      format: 'kohya',
      target: 'unet',
      modulePath: 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q',
      role: 'down',
    });
    expect(
      parseLoraKey('lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_out_0.lora_up.weight'),
    ).toMatchObject({
      modulePath: 'up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0',
      role: 'up',
    });
    expect(parseLoraKey('lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj.alpha')).toMatchObject({
      modulePath: 'mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj',
      role: 'alpha',
    });
    expect(parseLoraKey('lora_unet_down_blocks_1_resnets_0_conv_shortcut.lora_down.weight')?.modulePath).toBe(
      'down_blocks.1.resnets.0.conv_shortcut',
    );
    expect(parseLoraKey('lora_unet_up_blocks_0_resnets_2_time_emb_proj.lora_down.weight')?.modulePath).toBe(
      'up_blocks.0.resnets.2.time_emb_proj',
    );
    expect(parseLoraKey('lora_te_text_model_encoder_layers_11_self_attn_q_proj.lora_down.weight')).toMatchObject({
      format: 'kohya',
      target: 'text_encoder',
      modulePath: 'text_model.encoder.layers.11.self_attn.q_proj',
    });
    expect(parseLoraKey('lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight')?.modulePath).toBe(
      'text_model.encoder.layers.0.mlp.fc1',
    );
  });

  test('SDXL kohya keys: lora_te1_ and lora_te2_ are the two text encoders', () => {
    expect(parseLoraKey('lora_te1_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight')).toMatchObject({
      target: 'text_encoder',
      modulePath: 'text_model.encoder.layers.0.self_attn.k_proj',
    });
    expect(parseLoraKey('lora_te2_text_model_encoder_layers_31_self_attn_out_proj.alpha')).toMatchObject({
      target: 'text_encoder_2',
      modulePath: 'text_model.encoder.layers.31.self_attn.out_proj',
      role: 'alpha',
    });
  });

  test('SGM/LDM UNet names map with diffusers rename table (layers_per_block 2)', () => {
    const path = (flat: string): string | undefined =>
      parseLoraKey(`lora_unet_${flat}.lora_down.weight`, { layersPerBlock: 2 })?.modulePath;
    expect(parseLoraKey('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight')?.format).toBe(
      'kohya-sgm',
    );
    expect(path('input_blocks_4_1_transformer_blocks_0_attn1_to_q')).toBe(
      'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q',
    );
    expect(path('input_blocks_8_1_transformer_blocks_9_attn2_to_k')).toBe(
      'down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k',
    );
    expect(path('input_blocks_1_0_in_layers_2')).toBe('down_blocks.0.resnets.0.conv1');
    expect(path('input_blocks_5_0_skip_connection')).toBe('down_blocks.1.resnets.1.conv_shortcut');
    expect(path('input_blocks_2_0_emb_layers_1')).toBe('down_blocks.0.resnets.1.time_emb_proj');
    expect(path('input_blocks_3_0_op')).toBe('down_blocks.0.downsamplers.0.conv');
    expect(path('middle_block_0_out_layers_3')).toBe('mid_block.resnets.0.conv2');
    expect(path('middle_block_1_proj_in')).toBe('mid_block.attentions.0.proj_in');
    expect(path('middle_block_2_in_layers_2')).toBe('mid_block.resnets.1.conv1');
    expect(path('output_blocks_0_1_transformer_blocks_3_ff_net_2')).toBe(
      'up_blocks.0.attentions.0.transformer_blocks.3.ff.net.2',
    );
    expect(path('output_blocks_5_1_proj_out')).toBe('up_blocks.1.attentions.2.proj_out');
    expect(path('output_blocks_2_2_conv')).toBe('up_blocks.0.upsamplers.0.conv');
    // SD 1.x's first up block has no attention: its upsampler is output_blocks_2_1_conv.
    expect(path('output_blocks_2_1_conv')).toBe('up_blocks.0.upsamplers.0.conv');
    expect(path('time_embed_0')).toBe('time_embedding.linear_1');
    expect(path('label_emb_0_2')).toBe('add_embedding.linear_2');
    expect(path('input_blocks_0_0')).toBe('conv_in');
    expect(path('out_2')).toBe('conv_out');
    expect(sgmToDiffusers('output_blocks_3_0_in_layers_2', 1)).toBe('up_blocks.1.resnets.1.conv1');
  });

  test('diffusers keys: .lora.down/.lora.up, lora_linear_layer, attention processors, alphas', () => {
    expect(parseLoraKey('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight')).toEqual({
      key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight',
      format: 'diffusers',
      target: 'unet',
      modulePath: 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q',
      role: 'down',
    });
    expect(parseLoraKey('text_encoder.text_model.encoder.layers.3.mlp.fc2.lora_linear_layer.up.weight')).toMatchObject({
      target: 'text_encoder',
      modulePath: 'text_model.encoder.layers.3.mlp.fc2',
      role: 'up',
    });
    expect(
      parseLoraKey('down_blocks.1.attentions.1.transformer_blocks.0.attn2.processor.to_out_lora.up.weight'),
    ).toMatchObject({ target: 'unet', modulePath: 'down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_out.0' });
    expect(
      parseLoraKey('unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_k_lora.down.weight'),
    ).toMatchObject({
      modulePath: 'mid_block.attentions.0.transformer_blocks.0.attn1.to_k',
    });
    expect(parseLoraKey('unet.up_blocks.1.attentions.0.proj_in.alpha')).toMatchObject({
      role: 'alpha',
      modulePath: 'up_blocks.1.attentions.0.proj_in',
    });
  });

  test('PEFT keys: lora_A is down, lora_B is up, with any of its prefixes', () => {
    expect(parseLoraKey('unet.up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v.lora_A.weight')).toMatchObject({
      format: 'peft',
      target: 'unet',
      modulePath: 'up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v',
      role: 'down',
    });
    expect(parseLoraKey('text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight')).toMatchObject({
      target: 'text_encoder_2',
      role: 'up',
    });
    expect(parseLoraKey('base_model.model.down_blocks.0.resnets.0.conv1.lora_A.weight')).toMatchObject({
      target: 'unet',
      modulePath: 'down_blocks.0.resnets.0.conv1',
    });
    expect(parseLoraKey('base_model.model.text_model.encoder.layers.0.mlp.fc1.lora_B.weight')?.target).toBe(
      'text_encoder',
    );
  });

  test('other network kinds are not LoRA keys', () => {
    for (const key of [
      'lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a',
      'lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w1',
      'lora_unet_down_blocks_0_attentions_0_proj_in.dora_scale',
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_mid.weight',
      'emb_params',
      'unet.down_blocks.0.attentions.0.proj_in.weight',
    ]) {
      expect(parseLoraKey(key), key).toBeNull();
    }
  });

  test('unflatten restores compound module names', () => {
    expect(unflatten('text_model_final_layer_norm')).toBe('text_model.final_layer_norm');
    expect(unflatten('time_embedding_linear_1')).toBe('time_embedding.linear_1');
    expect(unflatten('conv_norm_out')).toBe('conv_norm_out');
  });
});

describe('groupLoraModules', () => {
  test('pairs down, up and alpha; LoCon convolutions included; strays reported', () => {
    const lora = memoryLoraTensors({
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight': tensor([4, 32, 3, 3]),
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight': tensor([32, 4, 1, 1]),
      'lora_unet_down_blocks_0_resnets_0_conv1.alpha': { dims: [], data: Float32Array.of(2) },
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': tensor([4, 32]),
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': tensor([32, 4]),
      'lora_unet_mid_block_attentions_0_proj_in.lora_down.weight': tensor([4, 64]),
      'lora_unet_mid_block_attentions_0_proj_in.hada_w1_a': tensor([4, 64]),
    });
    const { modules, unsupported } = groupLoraModules(lora);
    expect(modules).toHaveLength(2);
    expect(modules.find((m) => m.target === 'unet')).toMatchObject({
      modulePath: 'down_blocks.0.resnets.0.conv1',
      flat: 'down_blocks_0_resnets_0_conv1',
      alpha: 2,
    });
    expect(modules.find((m) => m.target === 'text_encoder')?.alpha).toBeNull();
    expect(unsupported.sort()).toEqual([
      'lora_unet_mid_block_attentions_0_proj_in.hada_w1_a',
      'lora_unet_mid_block_attentions_0_proj_in.lora_down.weight',
    ]);
  });

  test('PEFT alphas come from lora_adapter_metadata, per component and by pattern', () => {
    const lora = memoryLoraTensors(
      {
        'unet.mid_block.attentions.0.proj_in.lora_A.weight': tensor([4, 64]),
        'unet.mid_block.attentions.0.proj_in.lora_B.weight': tensor([64, 4]),
        'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight': tensor([4, 64]),
        'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight': tensor([64, 4]),
        'text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight': tensor([4, 32]),
        'text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight': tensor([64, 4]),
      },
      {
        lora_adapter_metadata: JSON.stringify({
          'unet.lora_alpha': 8,
          'unet.r': 4,
          'unet.alpha_pattern': { 'attn1.to_q': 2 },
          'text_encoder.lora_alpha': 1,
        }),
      },
    );
    const { modules } = groupLoraModules(lora);
    const alpha = (path: string): number | null | undefined => modules.find((m) => m.modulePath === path)?.alpha;
    expect(alpha('mid_block.attentions.0.proj_in')).toBe(8);
    expect(alpha('mid_block.attentions.0.transformer_blocks.0.attn1.to_q')).toBe(2);
    expect(alpha('text_model.encoder.layers.0.mlp.fc1')).toBe(1);
  });
});
