import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '@engine/components/ClipTokenizer';
import {
  applyPromptWeights,
  buildPromptChunks,
  emptyChunk,
  padChunksTo,
  parsePromptAttention,
  type PromptTokenizer,
} from '@engine/components/promptWeighting';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const clipDir = resolve(repoRoot, '../shared/data/clip');
const hasClip = existsSync(join(clipDir, 'vocab.json')) && existsSync(join(clipDir, 'merges.txt'));
if (!hasClip) console.warn(`Skipping the prompt tests on the CLIP vocabulary: ${clipDir} is absent.`);

/** Every printable ASCII character is a token (alone and word-final); ids are stable and readable. */
function tinyTokenizer(options: { padToken?: string } = {}): ClipTokenizer {
  const vocab: Record<string, number> = {};
  for (let c = 0x21; c <= 0x7e; c++) vocab[String.fromCharCode(c)] = c;
  for (let c = 0x21; c <= 0x7e; c++) vocab[`${String.fromCharCode(c)}</w>`] = 1000 + c;
  vocab['<|startoftext|>'] = 2000;
  vocab['<|endoftext|>'] = 2001;
  return ClipTokenizer.fromData(vocab, '#version: 0.2\n', options);
}

const BOS = 2000;
const EOS = 2001;
const COMMA = 1000 + ','.charCodeAt(0);
const word = (letter: string) => 1000 + letter.charCodeAt(0);
/** `count` one-token words: a b c ... (letters repeat). */
const words = (count: number) => Array.from({ length: count }, (_, i) => String.fromCharCode(97 + (i % 26)));

describe('parsePromptAttention (the doctests of A1111 prompt_parser.py)', () => {
  it.each([
    ['normal text', [['normal text', 1.0]]],
    [
      'an (important) word',
      [
        ['an ', 1.0],
        ['important', 1.1],
        [' word', 1.0],
      ],
    ],
    ['(unbalanced', [['unbalanced', 1.1]]],
    ['\\(literal\\]', [['(literal]', 1.0]]],
    ['(unnecessary)(parens)', [['unnecessaryparens', 1.1]]],
    [
      'a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).',
      [
        ['a ', 1.0],
        ['house', 1.5730000000000004],
        [' ', 1.1],
        ['on', 1.0],
        [' a ', 1.1],
        ['hill', 0.55],
        [', sun, ', 1.1],
        ['sky', 1.4641000000000006],
        ['.', 1.1],
      ],
    ],
  ])('parses %j', (text, expected) => {
    expect(parsePromptAttention(text)).toEqual(expected);
  });
});

describe('parsePromptAttention (more cases, checked against the Python original)', () => {
  it.each([
    [
      'a BREAK b',
      [
        ['a', 1],
        ['BREAK', -1],
        ['b', 1],
      ],
    ],
    [
      '(a BREAK b)',
      [
        ['a', 1.1],
        ['BREAK', -1.1],
        ['b', 1.1],
      ],
    ],
    ['xBREAK y', [['xBREAK y', 1]]],
    [
      'éBREAK é BREAK\u3000x',
      [
        ['éBREAK é', 1],
        ['BREAK', -1],
        ['x', 1],
      ],
    ],
    [
      'line1\nBREAK\nline2',
      [
        ['line1', 1],
        ['BREAK', -1],
        ['line2', 1],
      ],
    ],
    [
      'BREAK',
      [
        ['', 1],
        ['BREAK', -1],
        ['', 1],
      ],
    ],
    ['', [['', 1]]],
    ['a\\\\b', [['a\\b', 1]]],
    ['(a: 1.3 )', [['a', 1.3]]],
    ['(a:١.٥)', [['a', 1.5]]],
    [
      '(a:+.5) (b:5.) x\\',
      [
        ['a', 0.5],
        [' ', 1],
        ['b', 5],
        [' x', 1],
      ],
    ],
    ['[a:b:0.5]', [['a:b:0.5', 0.9090909090909091]]],
    ['((a:1.2):0.5)', [['a', 0.6]]],
    ['a:1.2)', [['a:1.2)', 1]]],
    [
      '[[a]] (b:-1) ]c[ )d(',
      [
        ['a', 0.8264462809917354],
        [' ', 1],
        ['b', -1],
        [' ]c', 1],
        [' )d', 0.9090909090909091],
      ],
    ],
  ])('parses %j', (text, expected) => {
    expect(parsePromptAttention(text)).toEqual(expected);
  });

  it('fails on a weight Python cannot read, as A1111 does', () => {
    expect(() => parsePromptAttention('(a:1.2.3)')).toThrow(/not a weight/);
    expect(() => parsePromptAttention('(a:.)')).toThrow(/not a weight/);
  });
});

describe('buildPromptChunks', () => {
  const tokenizer = tinyTokenizer();

  it('makes one 77-id chunk for a short prompt, with weight 1 on bos, eos and padding', () => {
    const { chunks, tokenCount } = buildPromptChunks(tokenizer, 'a (b) [c]');
    expect(tokenCount).toBe(3);
    expect(chunks).toHaveLength(1);
    const [chunk] = chunks;
    expect(chunk!.ids).toEqual([BOS, word('a'), word('b'), word('c'), ...new Array(73).fill(EOS)]);
    expect(chunk!.weights).toEqual([1, 1, 1.1, 1 / 1.1, ...new Array(73).fill(1)]);
  });

  it('gives an empty prompt one chunk of end tokens', () => {
    const { chunks, tokenCount } = buildPromptChunks(tokenizer, '');
    expect(tokenCount).toBe(0);
    expect(chunks).toEqual([emptyChunk(tokenizer)]);
    expect(chunks[0]!.ids).toEqual([BOS, ...new Array(76).fill(EOS)]);
  });

  it('fits exactly 75 tokens in one chunk and starts a second for the 76th', () => {
    expect(buildPromptChunks(tokenizer, words(75).join(' ')).chunks).toHaveLength(1);
    const { chunks, tokenCount } = buildPromptChunks(tokenizer, words(76).join(' '));
    expect(chunks).toHaveLength(2);
    expect(tokenCount).toBe(76);
    expect(chunks[0]!.ids.at(-1)).toBe(EOS);
    expect(chunks[1]!.ids.slice(0, 3)).toEqual([BOS, word(words(76)[75]!), EOS]);
  });

  it('moves the words after a nearby comma to the next chunk (comma padding backtrack)', () => {
    const prompt = `${words(70).join(' ')}, ${words(10).join(' ')}`;
    const { chunks, tokenCount } = buildPromptChunks(tokenizer, prompt);
    expect(chunks).toHaveLength(2);
    // 70 words and the comma, then end tokens; the 4 words that followed moved on.
    expect(chunks[0]!.ids.slice(70, 74)).toEqual([word(words(70)[69]!), COMMA, EOS, EOS]);
    expect(chunks[1]!.ids.slice(0, 12)).toEqual([BOS, ...words(10).map(word), EOS]);
    // A1111 counts the first chunk as a full 75.
    expect(tokenCount).toBe(85);
  });

  it('keeps filling the chunk when the backtrack is off or the comma is too far back', () => {
    const prompt = `${words(70).join(' ')}, ${words(10).join(' ')}`;
    const off = buildPromptChunks(tokenizer, prompt, { commaPaddingBacktrack: 0 });
    expect(off.chunks[0]!.ids.slice(71, 77)).toEqual([COMMA, ...words(4).map(word), EOS]);
    expect(off.tokenCount).toBe(81);
    const short = buildPromptChunks(tokenizer, prompt, { commaPaddingBacktrack: 4 });
    expect(short.chunks[0]!.ids.slice(71, 77)).toEqual(off.chunks[0]!.ids.slice(71, 77));
  });

  it('starts a new chunk at BREAK', () => {
    const { chunks, tokenCount } = buildPromptChunks(tokenizer, 'a BREAK b');
    expect(chunks.map((c) => c.ids.slice(0, 3))).toEqual([
      [BOS, word('a'), EOS],
      [BOS, word('b'), EOS],
    ]);
    expect(tokenCount).toBe(76);
  });

  it('treats a weighted BREAK as a word, as A1111 does', () => {
    const { chunks } = buildPromptChunks(tokenizer, '(a BREAK b)');
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.weights.slice(0, 8)).toEqual([1, 1.1, -1.1, -1.1, -1.1, -1.1, -1.1, 1.1]);
  });

  it('pads after the first end token when the tokenizer pads with something else (SD 2)', () => {
    const sd2 = tinyTokenizer({ padToken: '!' });
    const bang = '!'.charCodeAt(0);
    const { chunks } = buildPromptChunks(sd2, 'a b');
    expect(chunks[0]!.ids).toEqual([BOS, word('a'), word('b'), EOS, ...new Array(73).fill(bang)]);
    expect(emptyChunk(sd2).ids).toEqual([BOS, EOS, ...new Array(75).fill(bang)]);
  });
});

describe('padChunksTo', () => {
  it('appends empty chunks to the shorter list', () => {
    const tokenizer: PromptTokenizer = tinyTokenizer();
    const long = buildPromptChunks(tokenizer, 'a BREAK b BREAK c').chunks;
    const short = buildPromptChunks(tokenizer, 'blurry').chunks;
    const [a, b] = padChunksTo(long, short, tokenizer);
    expect(a).toEqual(long);
    expect(b).toHaveLength(3);
    expect(b.slice(0, 1)).toEqual(short);
    expect(b[1]).toEqual(emptyChunk(tokenizer));
    expect(b[2]).toEqual(emptyChunk(tokenizer));
    const [c, d] = padChunksTo(short, long, tokenizer);
    expect(c).toHaveLength(3);
    expect(d).toEqual(long);
  });
});

describe('applyPromptWeights', () => {
  function randomHidden(length: number, seed: number): Float32Array {
    let s = seed;
    return Float32Array.from({ length }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 31 - 0.7;
    });
  }

  it('leaves the output as it is when every weight is 1', () => {
    const hidden = randomHidden(77 * 8, 1);
    expect(applyPromptWeights(hidden, 77, 8, new Array(77).fill(1))).toEqual(hidden);
  });

  it('scales each token by its weight, then restores the mean of the chunk', () => {
    const hidden = Float32Array.from([1, 2, 3, 4]);
    const out = applyPromptWeights(hidden, 2, 2, [1, 2]);
    // weighted: 1 2 6 8 (mean 4.25); original mean 2.5
    const scale = Math.fround(2.5 / 4.25);
    expect(Array.from(out)).toEqual([1, 2, 6, 8].map((v) => Math.fround(v * scale)));
    expect(hidden).toEqual(Float32Array.from([1, 2, 3, 4]));
  });

  it('keeps the mean and the ratios between tokens on a real-sized chunk', () => {
    const dim = 768;
    const hidden = randomHidden(77 * dim, 2);
    const weights = Array.from({ length: 77 }, (_, t) => (t % 5 === 0 ? 1.3 : t % 7 === 0 ? 0.8 : 1));
    const out = applyPromptWeights(hidden, 77, dim, weights);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(out)).toBeCloseTo(mean(hidden), 6);
    const scale = out[0]! / (hidden[0]! * 1.3);
    expect(out[3 * dim + 5]! / hidden[3 * dim + 5]!).toBeCloseTo(scale, 5);
    expect(out[5 * dim + 9]! / hidden[5 * dim + 9]!).toBeCloseTo(1.3 * scale, 5);
    expect(out[7 * dim + 1]! / hidden[7 * dim + 1]!).toBeCloseTo(0.8 * scale, 5);
  });

  it('skips the rescale where the weighted mean is 0 instead of dividing by it', () => {
    const out = applyPromptWeights(Float32Array.from([1, -1, 2, 2]), 2, 2, [1, 0]);
    expect(Array.from(out)).toEqual([1, -1, 0, 0]);
  });

  it('rejects weights that do not fit the output', () => {
    expect(() => applyPromptWeights(new Float32Array(10), 2, 4, [1, 1])).toThrow(/do not fit/);
    expect(() => applyPromptWeights(new Float32Array(8), 2, 4, [1])).toThrow(/do not fit/);
  });
});

describe.skipIf(!hasClip)(`prompt chunks on the CLIP vocabulary in ${clipDir}`, () => {
  it('tokenizes each weighted run on its own and carries its weight', () => {
    const tokenizer = ClipTokenizer.fromFiles(join(clipDir, 'vocab.json'), join(clipDir, 'merges.txt'));
    const { chunks, tokenCount } = buildPromptChunks(tokenizer, 'masterpiece, best quality, (red fox:1.3)');
    expect(tokenCount).toBe(7);
    expect(chunks[0]!.ids.slice(0, 10)).toEqual([49406, 12066, 267, 949, 3027, 267, 736, 3240, 49407, 49407]);
    expect(chunks[0]!.weights.slice(0, 10)).toEqual([1, 1, 1, 1, 1, 1, 1.3, 1.3, 1, 1]);
  });
});

describe('embeddings at a chunk boundary (A1111 sd_hijack_clip.py)', () => {
  it('an embedding that would straddle the 75-token boundary starts the next chunk, whole', () => {
    const tokenizer = tinyTokenizer();
    tokenizer.addEmbedding('inkwash', [3000, 3001, 3002, 3003]);
    // 73 one-token words leave room for 2 tokens: the 4 vectors move to chunk 2.
    const { chunks } = buildPromptChunks(tokenizer, `${words(73).join(' ')} (inkwash:1.2)`, {
      commaPaddingBacktrack: 0,
    });
    expect(chunks).toHaveLength(2);
    expect(chunks[0]?.ids.slice(74, 77)).toEqual([EOS, EOS, EOS]);
    expect(chunks[1]?.ids.slice(0, 6)).toEqual([BOS, 3000, 3001, 3002, 3003, EOS]);
    expect(chunks[1]?.weights.slice(1, 5)).toEqual([1.2, 1.2, 1.2, 1.2]);
    // With room for all four, it stays in the first chunk.
    const fits = buildPromptChunks(tokenizer, `${words(71).join(' ')} inkwash`, { commaPaddingBacktrack: 0 });
    expect(fits.chunks).toHaveLength(1);
    expect(fits.chunks[0]?.ids.slice(72, 76)).toEqual([3000, 3001, 3002, 3003]);
  });
});
