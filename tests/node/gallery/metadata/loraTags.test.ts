/** A1111's LoRA tag forms, including separate text-encoder and UNet strengths (`<lora:name:te:unet>`). */
import { describe, expect, test } from 'vitest';
import {
  extractLoraTags,
  formatInfotext,
  parseA1111,
  recipeFromA1111,
} from '../../../../src/main/services/gallery/metadata/infotext';

describe('LoRA tags', () => {
  test('<lora:name>, <lora:name:w>, <lora:name:te:unet> and named te= / unet=', () => {
    const { prompt, loras } = extractLoraTags(
      'a fox <lora:a> <lora:b:0.6> <lora:c:0.5:1.2> <lora:d:unet=0.3:te=0.9> <lora:e:0.7:0.7>',
    );
    expect(prompt).toBe('a fox');
    expect(loras).toEqual([
      { name: 'a', weight: 1 },
      { name: 'b', weight: 0.6 },
      { name: 'c', weight: 0.5, unetWeight: 1.2 },
      { name: 'd', weight: 0.9, unetWeight: 0.3 },
      { name: 'e', weight: 0.7 },
    ]);
  });

  test('a separate UNet weight survives the infotext round trip', () => {
    const infotext = 'a fox <lora:c:0.5:1.2>\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512';
    const recipe = recipeFromA1111(parseA1111(infotext));
    expect(recipe.loras).toEqual([{ name: 'c', weight: 0.5, unetWeight: 1.2 }]);
    const written = formatInfotext({
      mode: 'txt2img',
      prompt: 'a fox',
      negativePrompt: '',
      seed: 1,
      sampler: 'euler',
      steps: 20,
      cfg: 7,
      width: 512,
      height: 512,
      model: { name: 'm' },
      loras: [{ name: 'c', weight: 0.5, unetWeight: 1.2 }],
      rng: 'torch-cpu',
      appVersion: '0.0.0',
    });
    expect(written.split('\n')[0]).toBe('a fox <lora:c:0.5:1.2>');
  });
});
