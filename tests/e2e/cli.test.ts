/**
 * The `sumi` command line as a user runs it: the built CLI in its own process, on fixture models.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import { createRng } from '../../src/main/engine/rng';
import { recallFromPng } from '../../src/main/services/gallery/metadata/readers';
import { ensureFixture } from '../helpers/fixtures';
import { makeTempDir } from '../helpers/tempDir';
import { assertBuilt, repoRoot } from './harness';

const temp = makeTempDir('sumi-cli-');
afterAll(() => temp.cleanup());

function sumi(...args: string[]): { code: number; stdout: string; stderr: string } {
  assertBuilt();
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sumi.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('sumi generate: canvas modes and model families', () => {
  test('--mask inpaints (unmasked pixels identical), --outpaint grows, --hires upscales', async () => {
    const model = await ensureFixture('sd1-optimum');
    const init = join(temp.dir, 'init.png');
    const rgba = Buffer.alloc(64 * 64 * 4);
    for (let p = 0; p < 64 * 64; p++) rgba.set([(p * 7) % 256, (p * 3) % 256, 128, 255], p * 4);
    await sharp(rgba, { raw: { width: 64, height: 64, channels: 4 } })
      .png()
      .toFile(init);
    const maskFile = join(temp.dir, 'mask.png');
    const mask = Buffer.alloc(64 * 64);
    for (let y = 16; y < 48; y++) mask.fill(255, y * 64 + 16, y * 64 + 48);
    await sharp(mask, { raw: { width: 64, height: 64, channels: 1 } })
      .png()
      .toFile(maskFile);
    const common = [
      '--model',
      model,
      '--prompt',
      'a red door',
      '--steps',
      '2',
      '--seed',
      '3',
      '--width',
      '64',
      '--height',
      '64',
    ];

    const inpainted = join(temp.dir, 'inpainted.png');
    const r1 = sumi('generate', ...common, '--init', init, '--mask', maskFile, '--mask-blur', '0', '--out', inpainted);
    expect(r1.stderr).toBe('');
    expect(r1.code).toBe(0);
    const out = await sharp(inpainted).ensureAlpha().raw().toBuffer();
    let changed = 0;
    for (let p = 0; p < 64 * 64; p++) {
      const same = out.subarray(p * 4, p * 4 + 4).equals(rgba.subarray(p * 4, p * 4 + 4));
      if (mask[p] === 0) expect(same).toBe(true);
      else if (!same) changed++;
    }
    expect(changed).toBeGreaterThan(200);

    const outpainted = join(temp.dir, 'outpainted.png');
    const r2 = sumi('generate', ...common, '--init', init, '--outpaint', '0,0,32,0', '--out', outpainted);
    expect(r2.code, r2.stderr).toBe(0);
    expect(await sharp(outpainted).metadata()).toMatchObject({ width: 96, height: 64 });

    const hires = join(temp.dir, 'hires.png');
    const r3 = sumi('generate', ...common, '--hires', '128x128', '--hires-strength', '0.5', '--out', hires);
    expect(r3.code, r3.stderr).toBe(0);
    expect(await sharp(hires).metadata()).toMatchObject({ width: 128, height: 128 });
  });

  test('SDXL, LCM and Turbo fixture folders generate, the same seed twice giving the same bytes', async () => {
    for (const [variant, extra] of [
      ['sdxl-base', ['--steps', '2', '--cfg', '5']],
      ['sd1-lcm', ['--steps', '2', '--cfg', '1.5', '--sampler', 'lcm']],
      ['sdxl-turbo', ['--steps', '1', '--cfg', '0']],
    ] as const) {
      const model = await ensureFixture(variant);
      const run = (name: string): Buffer => {
        const file = join(temp.dir, `${variant}-${name}.png`);
        const r = sumi(
          'generate',
          '--model',
          model,
          '--prompt',
          'a fox',
          '--seed',
          '8',
          '--width',
          '64',
          '--height',
          '64',
          ...extra,
          '--out',
          file,
        );
        expect(r.code, `${variant}: ${r.stderr}`).toBe(0);
        return readFileSync(file);
      };
      expect(run('a').equals(run('b')), variant).toBe(true);
    }
  });
});

describe('sumi CLI', () => {
  test('generate --json writes the PNG and prints the resolved recipe, provider and timings', async () => {
    const model = await ensureFixture('sd1-optimum');
    const out = join(temp.dir, 'a.png');
    const r = sumi(
      'generate',
      '--model',
      model,
      '--prompt',
      'a lighthouse at dusk',
      '--steps',
      '3',
      '--width',
      '64',
      '--height',
      '96',
      '--seed',
      '9',
      '--out',
      out,
      '--json',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      recipe: Record<string, unknown>;
      provider: string;
      timings: Record<string, number>;
    };
    expect(summary.recipe).toMatchObject({
      seed: 9,
      width: 64,
      height: 96,
      steps: 3,
      sampler: 'euler_a',
      family: 'sd1',
    });
    expect(summary.recipe.modelHash).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.provider).toBe('cpu');
    expect(summary.timings.unetMs).toBeGreaterThan(0);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([64, 96]);
  });

  test('--noise replays the seed’s image from raw float32, and --out-latents writes NCHW float32', async () => {
    const model = await ensureFixture('sd1-optimum');
    const common = [
      '--model',
      model,
      '--prompt',
      'x',
      '--steps',
      '2',
      '--width',
      '64',
      '--height',
      '64',
      '--sampler',
      'ddim',
    ];
    const bySeed = join(temp.dir, 'seed.png');
    const latents = join(temp.dir, 'latents.bin');
    expect(sumi('generate', ...common, '--seed', '123', '--out', bySeed, '--out-latents', latents).code).toBe(0);
    expect(readFileSync(latents).length).toBe(4 * 8 * 8 * 4);
    const noise = createRng('torch-cpu', 123).randn(4 * 8 * 8);
    const noiseFile = join(temp.dir, 'noise.bin');
    writeFileSync(noiseFile, Buffer.from(noise.buffer));
    const byNoise = join(temp.dir, 'noise.png');
    expect(sumi('generate', ...common, '--seed', '5', '--noise', noiseFile, '--out', byNoise).code).toBe(0);
    const [a, b] = await Promise.all([bySeed, byNoise].map((f) => sharp(f).raw().toBuffer()));
    expect(a?.equals(b as Buffer)).toBe(true);
  });

  test('bad arguments exit with code 2 and say what was wrong', () => {
    const r = sumi('generate', '--prompt', 'x', '--out', join(temp.dir, 'b.png'), '--steps', 'lots');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--steps must be a whole number');
    expect(sumi('generate', '--prompt', 'x', '--out', 'y.png', '--width', '100').stderr).toContain('multiples of 8');
    expect(sumi('frobnicate').stderr).toContain('unknown command "frobnicate"');
  });

  test('a model folder that is not a model exits non-zero naming what is missing', () => {
    const r = sumi('generate', '--model', temp.dir, '--prompt', 'x', '--out', join(temp.dir, 'c.png'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sumi: .*not a diffusers ONNX model/);
  });

  test('tokenize, models probe and schedulers print JSON', async () => {
    const model = await ensureFixture('sd2-v');
    const tokens = JSON.parse(sumi('tokenize', '--model', model, 'a photo of a cat').stdout) as number[];
    expect(tokens.length).toBeGreaterThan(2);
    const probe = JSON.parse(sumi('models', 'probe', model).stdout) as Record<string, unknown>;
    expect(probe).toMatchObject({
      family: 'sd2',
      predictionType: 'v_prediction',
      precision: 'fp32',
      crossAttentionDim: 1024,
    });
    expect((probe.parts as { name: string }[]).map((p) => p.name).sort()).toEqual([
      'text_encoder',
      'unet',
      'vae_decoder',
      'vae_encoder',
    ]);
    const fp16 = JSON.parse(sumi('models', 'probe', await ensureFixture('sd1-fp16')).stdout) as Record<string, unknown>;
    expect(fp16).toMatchObject({ family: 'sd1', precision: 'fp16' });
    expect(JSON.parse(sumi('schedulers').stdout)).toContain('dpmpp_2m_karras');
  });
});

describe('sumi infotext and gallery', () => {
  test('infotext parse --a1111 reads stdin exactly as A1111 does; parse on our PNG recalls the Sumi recipe', async () => {
    const sample =
      'a castle, (masterpiece:1.2)\nNegative prompt: blurry, lowres\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x768, Model hash: 6ce0161689, Model: v1-5';
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin/sumi.js'), 'infotext', 'parse', '--a1111', '-'], {
      input: sample,
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      Prompt: 'a castle, (masterpiece:1.2)',
      'Negative prompt': 'blurry, lowres',
      Steps: '20',
      'Size-1': '512',
      'Size-2': '768',
      Seed: '42',
    });
    const recipeOut = spawnSync(process.execPath, [join(repoRoot, 'bin/sumi.js'), 'infotext', 'parse', '-'], {
      input: sample,
      encoding: 'utf8',
    });
    expect(JSON.parse(recipeOut.stdout)).toMatchObject({
      source: 'a1111',
      recipe: { sampler: 'dpmpp_2m_karras', seed: 42, width: 512, height: 768 },
    });

    const { createTestApp } = await import('../helpers/appHarness');
    const dataDir = join(temp.dir, 'gallery-data');
    const app = await createTestApp(dataDir);
    const model = await ensureFixture('sd1-optimum');
    app.generation.submit({
      mode: 'txt2img',
      model,
      prompt: 'a paper boat',
      negativePrompt: '',
      sampler: 'euler',
      steps: 1,
      cfg: 5,
      width: 64,
      height: 64,
      seed: 8,
      rng: 'fast',
      batchSize: 1,
      batchCount: 1,
      strength: 0.75,
    });
    await app.generation.idle();
    const media = app.generation.list()[0]?.results[0]?.media as string;
    const png = join(app.mediaRoots().outputs as string, media.replace(/^outputs\//, ''));
    await app.dispose();

    const parsed = JSON.parse(sumi('infotext', 'parse', png).stdout) as {
      source: string;
      recipe: Record<string, unknown>;
    };
    expect(parsed).toMatchObject({ source: 'sumi', recipe: { prompt: 'a paper boat', seed: 8, sampler: 'euler' } });
    const recipeFile = join(temp.dir, 'recipe.json');
    writeFileSync(recipeFile, JSON.stringify(parsed.recipe));
    expect(sumi('infotext', 'format', recipeFile).stdout).toMatch(
      /^a paper boat\nSteps: 1, Sampler: Euler, .*Seed: 8, Size: 64x64/,
    );

    const list = JSON.parse(sumi('gallery', 'list', '--data', dataDir).stdout) as { id: number; prompt: string }[];
    expect(list.map((i) => i.prompt)).toEqual(['a paper boat']);
    const show = JSON.parse(sumi('gallery', 'show', String(list[0]?.id), '--data', dataDir).stdout) as {
      generation: { seed: number };
    };
    expect(show.generation.seed).toBe(8);
    expect(sumi('gallery', 'show', '999', '--data', dataDir).code).toBe(1);

    const rerun = sumi('gallery', 'rerun', String(list[0]?.id), '--data', dataDir);
    expect(rerun.stderr).toBe('');
    const results = JSON.parse(rerun.stdout) as { imageId: number; media: string; seed: number }[];
    expect(results).toHaveLength(1);
    expect(results[0]?.seed).toBe(8);
    const exportDir = join(temp.dir, 'exported');
    const exported = JSON.parse(
      sumi('gallery', 'export', String(list[0]?.id), String(results[0]?.imageId), '--to', exportDir, '--data', dataDir)
        .stdout,
    ) as { files: string[] };
    expect(exported.files).toHaveLength(2);
    // Same pixels (the metadata differs only in the app version that wrote it).
    const [a, b] = await Promise.all(exported.files.map((f) => sharp(f).raw().toBuffer()));
    expect(a?.equals(b as Buffer)).toBe(true);
    expect(recallFromPng(readFileSync(exported.files[1] as string)).recipe).toMatchObject({
      prompt: 'a paper boat',
      seed: 8,
    });
    expect(sumi('gallery', 'export', '1', '--data', dataDir).stderr).toContain('--to DIR');
  });
});

describe('sumi generate --lora', () => {
  test('reports per LoRA the modules applied and the keys not matched', async () => {
    const { fixtureModules, writeFixtureLora } = await import('../helpers/fixtureLoras');
    const model = await ensureFixture('sd1-optimum');
    const file = join(temp.dir, 'cli-lora.safetensors');
    writeFixtureLora(file, {
      format: 'kohya',
      modules: fixtureModules(model, 'unet')
        .filter((m) => m.op === 'MatMul')
        .slice(0, 5),
      rank: 2,
      alpha: null,
      seed: 3,
      extra: {
        'lora_unet_no_such_block.lora_down.weight': { dtype: 'F32', shape: [2, 4], data: new Array(8).fill(0) },
      },
    });
    const out = join(temp.dir, 'lora.png');
    const r = sumi(
      'generate',
      '--model',
      model,
      '--prompt',
      'x',
      '--steps',
      '1',
      '--width',
      '64',
      '--height',
      '64',
      '--seed',
      '1',
      '--lora',
      `${file}:0.7`,
      '--out',
      out,
      '--json',
    );
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout) as {
      lora: { name: string; weight: number; applied: number; unmatched: string[]; hash: string }[];
    };
    expect(summary.lora).toHaveLength(1);
    expect(summary.lora[0]).toMatchObject({
      name: 'cli-lora',
      weight: 0.7,
      applied: 5,
      hash: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
    expect(summary.lora[0]?.unmatched).toContain('lora_unet_no_such_block.lora_down.weight');
    const bad = sumi('generate', '--model', model, '--prompt', 'x', '--lora', 'nowhere:1', '--out', out);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--lora nowhere:1');
  });
});
