/**
 * The embedding reader and checks in main: every layout is read with the strict safetensors reader into
 * the same vectors, broken files are refused saying why, embeddings of another family are refused naming
 * both widths, and prompt matching finds names as whole words in any case.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { AppError } from '../../../src/main/services/AppError';
import {
  checkEmbeddingFits,
  findEmbeddingNames,
  loadPromptEmbeddings,
  readEmbeddingFile,
} from '../../../src/main/services/models/embeddings';
import { writeFixtureEmbedding } from '../../helpers/fixtureEmbeddings';
import { writeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-embedding-files-');
afterAll(() => temp.cleanup());

describe('embedding files', () => {
  test('A1111, string_to_param, diffusers and SDXL layouts read into [n, width] vectors', async () => {
    const a1111 = writeFixtureEmbedding(join(temp.dir, 'a.safetensors'), {
      format: 'a1111',
      count: 2,
      width: 768,
      seed: 1,
    });
    const stp = writeFixtureEmbedding(join(temp.dir, 's.safetensors'), {
      format: 'string-to-param',
      count: 2,
      width: 768,
      seed: 1,
    });
    const single = writeFixtureEmbedding(join(temp.dir, 'd.safetensors'), {
      format: 'diffusers',
      count: 1,
      width: 1024,
      seed: 1,
      dtype: 'F16',
    });
    const xl = writeFixtureEmbedding(join(temp.dir, 'xl.safetensors'), {
      format: 'sdxl',
      count: 3,
      width: 768,
      width2: 1280,
      seed: 1,
    });

    const a = await readEmbeddingFile(a1111.file);
    expect(a).toMatchObject({ format: 'a1111', family: 'sd1', vectors: 2, spec: { name: 'a' } });
    expect(a.spec.vectors.text_encoder?.dims).toEqual([2, 768]);
    expect(a.spec.vectors.text_encoder?.data).toEqual(a1111.vectors);
    expect(a.spec.id).toMatch(/^[0-9a-f]{64}$/);
    expect(a.shortHash).toBe(a.spec.id.slice(0, 12));

    const s = await readEmbeddingFile(stp.file, 'renamed');
    expect(s).toMatchObject({ format: 'string-to-param', family: 'sd1', spec: { name: 'renamed' } });
    expect(s.spec.vectors.text_encoder?.data).toEqual(stp.vectors);

    const d = await readEmbeddingFile(single.file);
    expect(d).toMatchObject({ format: 'diffusers', family: 'sd2', vectors: 1 });
    expect(d.spec.vectors.text_encoder?.dims).toEqual([1, 1024]);
    expect(d.spec.vectors.text_encoder?.data).toEqual(single.vectors);

    const x = await readEmbeddingFile(xl.file);
    expect(x).toMatchObject({ format: 'sdxl', family: 'sdxl', vectors: 3 });
    expect(x.spec.vectors.text_encoder?.dims).toEqual([3, 768]);
    expect(x.spec.vectors.text_encoder_2?.dims).toEqual([3, 1280]);
    expect(x.spec.vectors.text_encoder_2?.data).toEqual(xl.vectors2);
  });

  test('broken files are refused with the reason', async () => {
    const many = join(temp.dir, 'many.safetensors');
    writeFixtureEmbedding(many, { format: 'a1111', count: 76, width: 8, seed: 1 });
    await expect(readEmbeddingFile(many)).rejects.toThrow(
      'emb_params holds 76 vectors; an embedding can stand for at most 75',
    );

    const mismatched = join(temp.dir, 'mismatched.safetensors');
    writeSafetensors(mismatched, {
      clip_l: { dtype: 'F32', shape: [2, 4], data: new Float32Array(8) },
      clip_g: { dtype: 'F32', shape: [3, 4], data: new Float32Array(12) },
    });
    await expect(readEmbeddingFile(mismatched)).rejects.toThrow('clip_l has 2 vectors and clip_g 3');

    const notOne = join(temp.dir, 'lora-like.safetensors');
    writeSafetensors(notOne, {
      a: { dtype: 'F32', shape: [2], data: [1, 2] },
      b: { dtype: 'F32', shape: [2], data: [1, 2] },
    });
    await expect(readEmbeddingFile(notOne)).rejects.toThrow('not a textual-inversion embedding');

    const nan = join(temp.dir, 'nan.safetensors');
    writeSafetensors(nan, { emb_params: { dtype: 'F32', shape: [1, 2], data: [Number.NaN, 1] } });
    await expect(readEmbeddingFile(nan)).rejects.toThrow('NaN or infinite');

    const pickle = join(temp.dir, 'old.pt');
    writeFileSync(pickle, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00]));
    await expect(readEmbeddingFile(pickle)).rejects.toThrow(/PyTorch pickle/);
  });

  test("an embedding of another family is refused naming the model's width", async () => {
    const sd2 = await readEmbeddingFile(
      writeFixtureEmbedding(join(temp.dir, 'sd2.safetensors'), { format: 'a1111', count: 1, width: 1024, seed: 2 })
        .file,
    );
    const sd1 = await readEmbeddingFile(
      writeFixtureEmbedding(join(temp.dir, 'sd1.safetensors'), { format: 'a1111', count: 1, width: 768, seed: 2 }).file,
    );
    const xl = await readEmbeddingFile(
      writeFixtureEmbedding(join(temp.dir, 'sdxl.safetensors'), {
        format: 'sdxl',
        count: 1,
        width: 768,
        width2: 1280,
        seed: 2,
      }).file,
    );
    expect(() => checkEmbeddingFits(sd2.spec, 'sd1')).toThrow(AppError);
    expect(() => checkEmbeddingFits(sd2.spec, 'sd1')).toThrow(
      'Embedding "sd2" is an SD 2.x embedding (1024), but this is an SD 1.x model (768): its vectors do not fit ' +
        "the text encoder's token embeddings. Use it with an SD 2.x model.",
    );
    expect(() => checkEmbeddingFits(sd1.spec, 'sdxl')).toThrow(
      'Embedding "sd1" is an SD 1.x embedding (768), but this is an SDXL model (768 + 1280)',
    );
    expect(() => checkEmbeddingFits(xl.spec, 'sd1')).toThrow(
      'Embedding "sdxl" is an SDXL embedding (768 + 1280), but this is an SD 1.x model (768)',
    );
    expect(() => checkEmbeddingFits(sd1.spec, 'sd1')).not.toThrow();
    expect(() => checkEmbeddingFits(xl.spec, 'sdxl')).not.toThrow();
    expect(() => checkEmbeddingFits(sd2.spec, 'unknown')).not.toThrow();
  });

  test('prompts name embeddings as whole words, in any case', async () => {
    const names = ['EasyNegative', 'bad-hands-5', 'cat'];
    expect(findEmbeddingNames(['a photo, (easynegative:1.2)', 'BAD-HANDS-5, blurry'], names).sort()).toEqual(
      ['EasyNegative', 'bad-hands-5'].sort(),
    );
    expect(findEmbeddingNames(['concatenate cats, easynegatives'], names)).toEqual([]);
    expect(findEmbeddingNames(['a cat.'], names)).toEqual(['cat']);

    const dir = join(temp.dir, 'library');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFixtureEmbedding(join(dir, 'EasyNegative.safetensors'), { format: 'a1111', count: 2, width: 768, seed: 5 });
    writeFixtureEmbedding(join(dir, 'Wide.safetensors'), { format: 'a1111', count: 2, width: 1024, seed: 5 });
    const found = await loadPromptEmbeddings(dir, ['a cat', 'easynegative'], 'sd1');
    expect(found.map((e) => e.spec.name)).toEqual(['EasyNegative']);
    await expect(loadPromptEmbeddings(dir, ['wide'], 'sd1')).rejects.toThrow('SD 2.x embedding (1024)');
    expect(await loadPromptEmbeddings(join(temp.dir, 'no-such-folder'), ['easynegative'], 'sd1')).toEqual([]);
  });
});
