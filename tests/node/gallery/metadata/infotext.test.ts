import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { samplerNames } from '@contract';
import {
  A1111_SAMPLERS,
  formatInfotext,
  parseA1111,
  quoteA1111,
  recipeFromA1111,
  samplerFromA1111,
  type SumiRecipe,
  zSumiRecipe,
} from '@main/services/gallery/metadata/infotext';

const samples = new URL('./samples/a1111/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('./samples/a1111-expected.json', import.meta.url), 'utf8')) as Record<
  string,
  Record<string, unknown>
>;

function sample(name: string): string {
  return readFileSync(new URL(name, samples), 'utf8');
}

const base: SumiRecipe = {
  mode: 'txt2img',
  prompt: 'a watercolor fox, autumn leaves',
  negativePrompt: 'blurry, lowres',
  seed: 1,
  sampler: 'euler_a',
  steps: 20,
  cfg: 7,
  width: 512,
  height: 768,
  model: { name: 'v1-5-pruned-emaonly', hash: '6ce0161689' },
  loras: [],
  rng: 'torch-cpu',
  appVersion: '0.1.0',
};

describe('formatInfotext', () => {
  it("writes A1111's layout: prompt, Negative prompt, then the parameters line in create_infotext's order", () => {
    expect(formatInfotext(base)).toBe(
      [
        'a watercolor fox, autumn leaves',
        'Negative prompt: blurry, lowres',
        'Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, RNG: CPU, Version: Sumi Studio 0.1.0',
      ].join('\n'),
    );
  });

  it('omits an empty negative prompt and quotes values holding commas, colons or newlines', () => {
    const text = formatInfotext({
      ...base,
      negativePrompt: '',
      sampler: 'dpmpp_2m_karras',
      rng: 'fast',
      model: { name: 'my model, v2: final' },
      loras: [
        { name: 'add_detail', weight: 0.6, hash: '7c6bad76eb54' },
        { name: 'film:grain', weight: 1, hash: 'd1131f7207d6' },
      ],
      hires: { scale: 2, steps: 15, upscaler: 'R-ESRGAN 4x+', denoisingStrength: 0.45 },
    });
    expect(text).toBe(
      [
        'a watercolor fox, autumn leaves <lora:add_detail:0.6> <lora:film:grain:1>',
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, Model: "my model, v2: final", Denoising strength: 0.45, RNG: fast, Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+, Lora hashes: "add_detail: 7c6bad76eb54, filmgrain: d1131f7207d6", Version: Sumi Studio 0.1.0',
      ].join('\n'),
    );
    expect(quoteA1111('say "hi"')).toBe('say "hi"');
    expect(quoteA1111('a "b", c')).toBe('"a \\"b\\", c"');
  });

  it('maps every sampler to an A1111 name and back', () => {
    for (const name of samplerNames) {
      const { sampler, scheduleType } = A1111_SAMPLERS[name];
      expect(samplerFromA1111(sampler, scheduleType, true)).toBe(name);
    }
    expect(samplerFromA1111('DPM++ 2M Karras', 'Automatic', false)).toBe('dpmpp_2m_karras');
    expect(samplerFromA1111('DPM++ 2M', 'Automatic', false)).toBe('dpmpp_2m');
    expect(samplerFromA1111('DPM++ 2M', 'Automatic', true)).toBe('dpmpp_2m_karras');
    expect(samplerFromA1111('DPM++ SDE Karras', 'Automatic', false)).toBe('dpmpp_sde_karras');
    expect(samplerFromA1111('DPM++ 2M SDE', 'Exponential', true)).toBeUndefined();
    expect(samplerFromA1111('Euler', 'Karras', true)).toBeUndefined();
  });
});

describe('round trip: our infotext parses back to the same recipe', () => {
  const recipes: [string, SumiRecipe][] = [
    ['plain txt2img', base],
    [
      'multi-line prompts, colons, LoRAs, hires, clip skip',
      {
        ...base,
        prompt: 'line one: a castle,\n(line two:1.2), "quoted"',
        negativePrompt: 'bad hands: extra fingers,\nsecond negative line',
        sampler: 'dpmpp_2m',
        seed: 4294967295,
        cfg: 6.5,
        loras: [
          { name: 'add_detail', weight: 0.6, hash: '7c6bad76eb54' },
          { name: 'no_hash', weight: -0.25 },
        ],
        hires: { scale: 1.5, steps: 12, upscaler: 'Latent (nearest-exact)', denoisingStrength: 0.5 },
        clipSkip: 2,
        rng: 'fast',
      },
    ],
    ['img2img', { ...base, mode: 'img2img', strength: 0.75, sampler: 'dpmpp_sde_karras', model: { name: 'demo' } }],
    [
      'hires to an exact size',
      { ...base, sampler: 'unipc', hires: { width: 1024, height: 1536, upscaler: 'Latent', denoisingStrength: 0.6 } },
    ],
  ];
  for (const [name, recipe] of recipes) {
    it(name, () => {
      const back = recipeFromA1111(parseA1111(formatInfotext(recipe)));
      expect(zSumiRecipe.parse(back)).toEqual(recipe);
    });
  }
  it('for every sampler', () => {
    for (const sampler of samplerNames) {
      expect(recipeFromA1111(parseA1111(formatInfotext({ ...base, sampler }))).sampler).toBe(sampler);
    }
  });
});

describe("parseA1111 returns what A1111's parse_generation_parameters returns", () => {
  const names = readdirSync(samples).filter((n) => n.endsWith('.txt'));
  it('has a reference for every sample', () => {
    expect(names.sort()).toEqual(Object.keys(expected).sort());
  });
  for (const name of names) {
    it(name, () => {
      expect(parseA1111(sample(name))).toEqual(expected[name]);
    });
  }
});

describe('sample A1111 infotexts parse to the expected fields', () => {
  it('multi-line prompt and negative prompt with colons', () => {
    const p = parseA1111(sample('02-multiline-colons.txt'));
    expect(p['Prompt']).toBe(
      '1girl, solo, looking at viewer,\n(silver hair:1.2), long hair, red eyes,\ncityscape at night: neon, rain',
    );
    expect(p['Negative prompt']).toBe(
      '(worst quality, low quality:1.4), text: watermark, signature\nextra fingers, (bad hands:1.3)',
    );
    expect(recipeFromA1111(p)).toMatchObject({ sampler: 'euler_a', cfg: 6.5, clipSkip: 2, width: 768, height: 512 });
  });

  it('LoRA tags and quoted LoRA hashes, hires parameters, CPU RNG', () => {
    const p = parseA1111(sample('03-lora-hires.txt'));
    expect(p['Lora hashes']).toBe('add_detail: 7c6bad76eb54, epiNoiseoffset_v2: d1131f7207d6');
    expect(p['Hires upscaler']).toBe('R-ESRGAN 4x+ Anime6B');
    const r = recipeFromA1111(p);
    expect(r).toMatchObject({
      mode: 'txt2img',
      prompt: 'portrait of a knight in ornate armor, intricate,, cinematic lighting',
      sampler: 'dpmpp_sde_karras',
      seed: 3005512012,
      width: 512,
      height: 640,
      rng: 'torch-cpu',
      model: { name: 'absolutereality_v181', hash: '463d6a9fe8' },
      hires: { scale: 2, steps: 15, upscaler: 'R-ESRGAN 4x+ Anime6B', denoisingStrength: 0.45 },
    });
    expect(r.loras).toEqual([
      { name: 'add_detail', weight: 0.6, hash: '7c6bad76eb54' },
      { name: 'epiNoiseoffset_v2', weight: 0.8, hash: 'd1131f7207d6' },
    ]);
    expect(r.appVersion).toBeUndefined();
  });

  it('old combined sampler names, old hires first pass, and backcompat flags', () => {
    const old = parseA1111(sample('04-old-1.5-hypernet.txt'));
    expect(old['Old prompt editing timelines']).toBe(true);
    expect(old['Prompt']).toMatch(/<hypernet:anime_3:0\.8>$/);
    expect(recipeFromA1111(old).sampler).toBe('dpmpp_2m_karras');
    const firstPass = parseA1111(sample('05-old-first-pass.txt'));
    expect([firstPass['Size-1'], firstPass['Size-2'], firstPass['Hires resize-1']]).toEqual([640, 448, 1024]);
    expect(recipeFromA1111(firstPass)).toMatchObject({ width: 640, height: 448, hires: { width: 1024, height: 768 } });
  });

  it('escaped quotes inside a quoted value, an empty value, a non-ASCII key', () => {
    const p = parseA1111(sample('07-quoting-edge.txt'));
    expect(p['Template']).toBe('a "quoted" thing, with comma');
    expect('Empty value' in p).toBe(false);
    expect(p['Größe']).toBe('5 cm');
  });

  it('a last line with fewer than 3 parameters is part of the prompt', () => {
    expect(parseA1111(sample('08-no-params.txt'))['Prompt']).toBe(
      'just a prompt, nothing else\nSteps: 20, Sampler: Euler',
    );
  });
});
