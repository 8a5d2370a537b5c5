import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, cleanClipText } from '@engine/components/ClipTokenizer';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const clipDir = resolve(repoRoot, '../shared/data/clip');
const hasClip = existsSync(join(clipDir, 'vocab.json')) && existsSync(join(clipDir, 'merges.txt'));
if (!hasClip) console.warn(`Skipping the CLIP vocabulary tests: ${clipDir} is absent (see ../shared/data/README.md).`);

/** A tiny vocabulary: every printable ASCII character, alone and word-final, the given merges, specials. */
function tinyTokenizerData(merges: [string, string][]): { vocab: Record<string, number>; merges: string } {
  const vocab: Record<string, number> = {};
  const add = (token: string) => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  for (let c = 0x21; c <= 0x7e; c++) add(String.fromCharCode(c));
  for (let c = 0x21; c <= 0x7e; c++) add(`${String.fromCharCode(c)}</w>`);
  for (const [a, b] of merges) add(a + b);
  add('<|startoftext|>');
  add('<|endoftext|>');
  return { vocab, merges: ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n' };
}

describe('cleanClipText', () => {
  it('unescapes HTML twice, collapses whitespace, trims and lower-cases', () => {
    expect(cleanClipText('  Tom &amp;amp; JERRY\t\n ')).toBe('tom & jerry');
    expect(cleanClipText('caf&eacute; &lt;3 &#x41;&#66; &ampx &copy2024 &bogus;')).toBe('café <3 ab &x ©2024 &bogus;');
  });

  it('reads numeric references as Python does', () => {
    expect(cleanClipText('&#128;&#0;&#xD800;&#1;x')).toBe('€\ufffd\ufffdx');
  });

  it('collapses only Unicode White_Space inside, but trims everything Python strips', () => {
    expect(cleanClipText('\u001ca\u001cb\u3000\u00a0c\u001c')).toBe('a\u001cb c');
  });

  it('composes characters (NFC), as ftfy does', () => {
    expect(cleanClipText('cafe\u0301')).toBe('caf\u00e9');
  });
});

describe('ClipTokenizer on a tiny vocabulary', () => {
  const data = tinyTokenizerData([
    ['c', 'a'],
    ['ca', 't</w>'],
    ['d', 'o'],
    ['do', 'g</w>'],
  ]);

  it('merges by rank and marks the end of a word', () => {
    const tokenizer = ClipTokenizer.fromData(data.vocab, data.merges);
    expect(tokenizer.tokenize('Cat dog, cats')).toEqual(['cat</w>', 'dog</w>', ',</w>', 'ca', 't', 's</w>']);
    expect(tokenizer.encode('cat')).toEqual([data.vocab['cat</w>']]);
  });

  it('takes bos and eos from the vocabulary and pads with eos unless told otherwise', () => {
    const sd1 = ClipTokenizer.fromData(data.vocab, data.merges);
    expect(sd1.bosId).toBe(data.vocab['<|startoftext|>']);
    expect(sd1.eosId).toBe(data.vocab['<|endoftext|>']);
    expect(sd1.padId).toBe(sd1.eosId);
    expect(sd1.maxLength).toBe(77);
    expect(ClipTokenizer.fromData(data.vocab, data.merges, { padToken: '!' }).padId).toBe(data.vocab['!']);
    expect(ClipTokenizer.fromData(data.vocab, data.merges, { padId: 5, maxLength: 10 })).toMatchObject({
      padId: 5,
      maxLength: 10,
    });
  });

  it('wraps ids in bos and eos without padding or truncation', () => {
    const tokenizer = ClipTokenizer.fromData(data.vocab, data.merges);
    expect(tokenizer.encodeWithSpecials('cat')).toEqual([tokenizer.bosId, data.vocab['cat</w>'], tokenizer.eosId]);
  });

  it('recognises the special tokens written in the text', () => {
    const tokenizer = ClipTokenizer.fromData(data.vocab, data.merges);
    expect(tokenizer.encode('cat <|endoftext|> dog')).toEqual([
      data.vocab['cat</w>'],
      tokenizer.eosId,
      data.vocab['dog</w>'],
    ]);
  });

  it('matches added tokens in the raw text before cleaning, and gives them the next free id', () => {
    const tokenizer = ClipTokenizer.fromData(data.vocab, data.merges);
    const next = Math.max(...Object.values(data.vocab)) + 1;
    expect(tokenizer.addToken('<Cat-Toy>')).toBe(next);
    expect(tokenizer.addToken('<Cat-Toy>')).toBe(next);
    expect(tokenizer.addToken('<style>', 1000)).toBe(1000);
    expect(tokenizer.encode('a <Cat-Toy> dog in <style>')).toEqual([
      data.vocab['a</w>'],
      next,
      data.vocab['dog</w>'],
      data.vocab['i'],
      data.vocab['n</w>'],
      1000,
    ]);
    // Case-sensitive, as Hugging Face's added tokens are.
    expect(tokenizer.encode('<cat-toy>')).not.toContain(next);
    expect(tokenizer.tokenId('<Cat-Toy>')).toBe(next);
    expect(() => tokenizer.addToken('cat</w>', 7)).toThrow(/already has the id/);
  });

  describe('fromModelFolder', () => {
    const folders: string[] = [];
    afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

    function modelFolder(files: Record<string, unknown>): string {
      const folder = mkdtempSync(join(tmpdir(), 'sumi-tokenizer-'));
      folders.push(folder);
      writeFileSync(join(folder, 'vocab.json'), JSON.stringify(data.vocab));
      writeFileSync(join(folder, 'merges.txt'), data.merges);
      for (const [name, content] of Object.entries(files)) writeFileSync(join(folder, name), JSON.stringify(content));
      return folder;
    }

    it('pads with eos for an SD 1 folder', () => {
      const folder = modelFolder({ 'tokenizer_config.json': { pad_token: '<|endoftext|>', model_max_length: 77 } });
      const tokenizer = ClipTokenizer.fromModelFolder(folder);
      expect(tokenizer.padId).toBe(tokenizer.eosId);
      expect(tokenizer.maxLength).toBe(77);
    });

    it('pads with "!" for an SD 2 folder, special_tokens_map.json winning over tokenizer_config.json', () => {
      const folder = modelFolder({
        'tokenizer_config.json': { pad_token: '<|endoftext|>', model_max_length: 77 },
        'special_tokens_map.json': { pad_token: { content: '!', lstrip: false } },
      });
      expect(ClipTokenizer.fromModelFolder(folder).padId).toBe(data.vocab['!']);
      expect(ClipTokenizer.fromModelFolder(folder, { padToken: '<|endoftext|>' }).padId).toBe(
        data.vocab['<|endoftext|>'],
      );
    });

    it('ignores the "no limit" sentinel some configs store as model_max_length', () => {
      const folder = modelFolder({ 'tokenizer_config.json': { model_max_length: 1e30 } });
      expect(ClipTokenizer.fromModelFolder(folder).maxLength).toBe(77);
    });

    it('names the missing file', () => {
      const folder = mkdtempSync(join(tmpdir(), 'sumi-tokenizer-'));
      folders.push(folder);
      expect(() => ClipTokenizer.fromModelFolder(folder)).toThrow(/vocab\.json is missing/);
    });
  });
});

interface ReferenceCase {
  prompt: string;
  ids: number[];
  tokens: string[];
}

describe.skipIf(!hasClip)(`ClipTokenizer on the CLIP vocabulary in ${clipDir}`, () => {
  const tokenizer = hasClip
    ? ClipTokenizer.fromFiles(join(clipDir, 'vocab.json'), join(clipDir, 'merges.txt'))
    : (undefined as unknown as ClipTokenizer);
  const reference = hasClip
    ? (JSON.parse(readFileSync(join(clipDir, 'reference-tokens.json'), 'utf8')) as { cases: ReferenceCase[] })
    : { cases: [] };

  it('has the special ids of SD 1.x', () => {
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId, tokenizer.maxLength]).toEqual([49406, 49407, 49407, 77]);
    expect(tokenizer.tokenId(',</w>')).toBe(267);
  });

  it.each(reference.cases.map((c) => [c.prompt, c] as const))('tokenizes %j as the reference does', (_prompt, c) => {
    expect(tokenizer.encodeWithSpecials(c.prompt)).toEqual(c.ids);
    expect(tokenizer.tokenize(c.prompt)).toEqual(c.tokens);
  });

  // Expected ids from openai/CLIP's SimpleTokenizer algorithm run in Python 3.11 with the `regex`
  // module, without ftfy, on this vocabulary.
  it.each([
    ['Tom &amp;amp; Jerry', [2435, 261, 9164]],
    [
      'caf&eacute; &ampfoo &copy2024 &bogus; &#128;&#39;s &#xD800;x &#0;',
      [15304, 261, 23435, 5811, 273, 271, 273, 275, 261, 42907, 282, 34919, 262, 338, 39802, 343, 39802],
    ],
    ['a\u001cb \u001c edge\u001c', [320, 472, 321, 472, 5461]],
    ['zero\u200bwidth\ufeffbom', [5848, 9844, 23571, 171, 119, 379, 19469]],
    ['hello <|endoftext|> world <|startoftext|>', [3306, 49407, 1002, 49406]],
    [
      'ΣΟΦΟΣ straße İstanbul',
      [139, 225, 138, 123, 139, 228, 138, 123, 139, 480, 1894, 127, 253, 324, 328, 16384, 11231],
    ],
    ["don't STOP 'til we're DONE", [847, 713, 1691, 713, 958, 649, 982, 1700]],
    ['x² ½ ٣٤٥ ①', [343, 41175, 33613, 149, 352, 149, 353, 149, 354, 158, 239, 510]],
  ])('tokenizes the edge case %j as SimpleTokenizer does', (prompt, ids) => {
    expect(tokenizer.encode(prompt)).toEqual(ids);
  });

  it('gives textual-inversion tokens ids after the vocabulary', () => {
    const withEmbedding = ClipTokenizer.fromFiles(join(clipDir, 'vocab.json'), join(clipDir, 'merges.txt'));
    expect(withEmbedding.addToken('<cat-toy>')).toBe(49408);
    expect(withEmbedding.encode('a <cat-toy> on a table')).toEqual([320, 49408, 525, 320, 2175]);
  });
});
