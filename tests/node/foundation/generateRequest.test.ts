/**
 * The one GenerateRequest for every mode: what each mode needs, and the clashes refused with a
 * message naming the fields.
 */
import { describe, expect, it } from 'vitest';
import { familyDefaults, zGenerateRequest, type GenerateRequestInput } from '@contract';

const base: GenerateRequestInput = {
  mode: 'txt2img',
  prompt: 'a lighthouse',
  sampler: 'euler',
  steps: 4,
  cfg: 7,
  width: 64,
  height: 64,
  seed: 1,
  rng: 'torch-cpu',
};
const png = Buffer.from('not really a png but base64').toString('base64');

function issues(input: GenerateRequestInput): string[] {
  const parsed = zGenerateRequest.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('GenerateRequest', () => {
  it('fills the defaults of every mode', () => {
    const parsed = zGenerateRequest.parse(base);
    expect(parsed).toMatchObject({
      maskBlur: 4,
      inpaintArea: 'full',
      inpaintPadding: 32,
      maskedContent: 'original',
      outpaintFill: 'edge',
      tiledVae: false,
      batchSize: 1,
    });
  });

  it('accepts each mode with what it needs', () => {
    expect(issues({ ...base, mode: 'img2img', initImage: png })).toEqual([]);
    expect(issues({ ...base, mode: 'inpaint', initImageId: 3, mask: png })).toEqual([]);
    expect(
      issues({ ...base, mode: 'outpaint', initImage: png, outpaint: { left: 0, top: 0, right: 64, bottom: 0 } }),
    ).toEqual([]);
    expect(issues({ ...base, mode: 'upscale', initImageId: 2, upscale: { strength: 0.2 } })).toEqual([]);
    expect(issues({ ...base, hires: { width: 128, height: 128 } })).toEqual([]);
  });

  it('refuses what a mode lacks, naming the field', () => {
    expect(issues({ ...base, mode: 'inpaint', initImage: png })).toEqual(['mask: is required for inpaint']);
    expect(issues({ ...base, mode: 'img2img' })).toEqual(['initImage: is required for img2img (or initImageId)']);
    expect(issues({ ...base, mode: 'outpaint', initImage: png })).toEqual([
      'outpaint: is required for outpaint (pixels to add per side)',
    ]);
    expect(
      issues({ ...base, mode: 'outpaint', initImage: png, outpaint: { left: 0, top: 0, right: 0, bottom: 0 } }),
    ).toEqual(['outpaint: adds nothing: give at least one side']);
  });

  it('refuses impossible combinations, naming the fields that clash', () => {
    expect(issues({ ...base, mask: png })).toContain('mask: clashes with mode txt2img (a mask means inpaint)');
    expect(issues({ ...base, mode: 'img2img', initImage: png, hires: { width: 128, height: 128 } })).toEqual([
      'hires: clashes with mode img2img (hires fix is for txt2img)',
    ]);
    expect(issues({ ...base, width: 128, height: 128, hires: { width: 256, height: 64 } })).toEqual([
      'hires: is 256x64, smaller than the base size 128x128',
    ]);
    expect(issues({ ...base, mode: 'img2img', initImage: png, initImageId: 1 })).toEqual([
      'initImageId: clashes with initImage: give one of them',
    ]);
    expect(issues({ ...base, upscale: { strength: 0.3 } })).toEqual([
      'upscale: clashes with mode txt2img (use upscale)',
    ]);
    expect(
      issues({ ...base, hires: { width: 128, height: 128 }, refiner: { model: '/m/refiner', switchAt: 0.8 } }),
    ).toEqual(['refiner: clashes with hires: use one of them']);
    expect(issues({ ...base, width: 100 })).toEqual(['width: must be a multiple of 8']);
  });
});

describe('familyDefaults', () => {
  it('starts each family at its native size, and LCM/Turbo at few steps', () => {
    expect(familyDefaults('sd1')).toMatchObject({ size: 512, steps: 25, cfg: 7 });
    expect(familyDefaults('sd2').size).toBe(768);
    expect(familyDefaults('sdxl')).toMatchObject({ size: 1024, cfg: 6.5 });
    expect(familyDefaults('sd1', 'lcm')).toMatchObject({ sampler: 'lcm', cfg: 1.5 });
    expect(familyDefaults('sdxl', 'turbo')).toMatchObject({ steps: 1, cfg: 0 });
    for (const [w, h] of familyDefaults('sdxl').sizes) expect(w % 64 === 0 && h % 64 === 0).toBe(true);
  });
});
