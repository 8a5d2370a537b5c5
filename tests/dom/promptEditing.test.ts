import { describe, expect, test } from 'vitest';
import {
  appendToPrompt,
  applyLoraCompletion,
  formatLoraWeight,
  formatWeight,
  loraCompletionAt,
  loraPromptName,
  lorasInPrompt,
  loraTag,
  nudgeWeight,
  setLoraInPrompt,
  type TextEdit,
} from '../../src/renderer/src/features/generate/promptEditing';

/** `|` marks the cursor, `«` and `»` a selection; the result is written back the same way. */
function parse(marked: string): { text: string; start: number; end: number } {
  const cursor = marked.indexOf('|');
  if (cursor >= 0) return { text: marked.replace('|', ''), start: cursor, end: cursor };
  const start = marked.indexOf('«');
  const end = marked.indexOf('»') - 1;
  return { text: marked.replace('«', '').replace('»', ''), start, end };
}

function mark(edit: TextEdit | null): string | null {
  if (!edit) return null;
  const { text, selectionStart: s, selectionEnd: e } = edit;
  return s === e ? `${text.slice(0, s)}|${text.slice(s)}` : `${text.slice(0, s)}«${text.slice(s, e)}»${text.slice(e)}`;
}

const up = (marked: string): string | null => {
  const { text, start, end } = parse(marked);
  return mark(nudgeWeight(text, start, end, 1));
};
const down = (marked: string): string | null => {
  const { text, start, end } = parse(marked);
  return mark(nudgeWeight(text, start, end, -1));
};

describe('attention weight nudge (A1111 Ctrl+Up/Down)', () => {
  test('the word at the cursor is wrapped at 1.1, then stepped, and unwrapped at 1.0', () => {
    expect(up('a c|at, sitting')).toBe('a («cat»:1.1), sitting');
    expect(up('a («cat»:1.1), sitting')).toBe('a («cat»:1.2), sitting');
    expect(down('a («cat»:1.1), sitting')).toBe('a «cat», sitting');
    expect(down('a c|at')).toBe('a («cat»:0.9)');
    expect(up('a («cat»:0.9)')).toBe('a «cat»');
  });

  test('the cursor at either end of a word picks that word', () => {
    expect(up('|cat dog')).toBe('(«cat»:1.1) dog');
    expect(up('cat dog|')).toBe('cat («dog»:1.1)');
    expect(up('cat|, dog')).toBe('(«cat»:1.1), dog');
  });

  test('a selection is weighted as a whole, without the spaces around it', () => {
    expect(up('a «red hair» girl')).toBe('a («red hair»:1.1) girl');
    expect(up('a« red hair »girl')).toBe('a («red hair»:1.1) girl');
    expect(down('a «red hair» girl')).toBe('a («red hair»:0.9) girl');
  });

  test('the cursor anywhere inside a weighted group steps that group', () => {
    expect(up('a (red h|air:1.3), girl')).toBe('a («red hair»:1.4), girl');
    expect(down('(red hair:1.3|)')).toBe('(«red hair»:1.2)');
    expect(down('(|red hair:1.1) girl')).toBe('«red hair» girl');
  });

  test('inside unweighted parentheses: the block, converted from old-style emphasis first', () => {
    expect(up('a (red h|air) girl')).toBe('a («red hair»:1.2) girl');
    expect(up('((c|at))')).toBe('(«cat»:1.3)');
    expect(down('((c|at))')).toBe('(«cat»:1.1)');
    expect(down('[c|at]')).toBe('(«cat»:0.8)');
    expect(up('[c|at]')).toBe('«cat»');
  });

  test('a word inside a larger weighted group gets its own group (A1111 nests them)', () => {
    expect(up('(red (hair:1.2) d|og:1.1)')).toBe('(red (hair:1.2) («dog»:1.1):1.1)');
    expect(up('(red (ha|ir:1.2) dog:1.1)')).toBe('(red («hair»:1.3) dog:1.1)');
  });

  test('a LoRA tag at the cursor moves its weight by 0.05 and keeps 1.0', () => {
    expect(up('x <lora:fo|o:0.8> y')).toBe('x <«lora:foo»:0.85> y');
    expect(down('x <lora:foo:0.8|> y')).toBe('x <«lora:foo»:0.75> y');
    expect(up('<lora:foo:0.|95>')).toBe('<«lora:foo»:1.0>');
    expect(up('<lora:f|oo>')).toBeNull();
  });

  test('steps do not accumulate floating-point error', () => {
    let text = 'cat';
    let start = 0;
    let end = 3;
    for (let i = 0; i < 10; i++) {
      const edit = nudgeWeight(text, start, end, 1);
      if (!edit) throw new Error('no edit');
      ({ text, selectionStart: start, selectionEnd: end } = edit);
    }
    expect(text).toBe('(cat:2.0)');
    for (let i = 0; i < 13; i++) {
      const edit = nudgeWeight(text, start, end, -1);
      if (!edit) throw new Error('no edit');
      ({ text, selectionStart: start, selectionEnd: end } = edit);
    }
    expect(text).toBe('(cat:0.7)');
  });

  test('nothing to weight: the cursor between spaces, an empty prompt', () => {
    expect(up('a | b')).toBeNull();
    expect(up('|')).toBeNull();
    expect(up('« »')).toBeNull();
  });

  test('multi-line prompts: a newline delimits words', () => {
    expect(up('first line\nsec|ond')).toBe('first line\n(«second»:1.1)');
  });

  test('a custom step', () => {
    const edit = nudgeWeight('cat', 0, 3, 1, { attentionStep: 0.05 });
    expect(edit?.text).toBe('(cat:1.05)');
  });

  test('weights are written as A1111 writes them', () => {
    expect(formatWeight(1)).toBe('1.0');
    expect(formatWeight(1.1 + 0.1)).toBe('1.2');
    expect(formatWeight(0.30000000000000004)).toBe('0.3');
    expect(formatWeight(2)).toBe('2.0');
  });
});

describe('<lora: completion', () => {
  const names = ['foo', 'bar_fo', 'Forest', 'detail tweaker', 'zeta'];

  test('suggests names while the cursor is in the name of a <lora: tag, prefix matches first', () => {
    const text = 'a cat <lora:fo';
    const c = loraCompletionAt(text, text.length, names);
    expect(c).toMatchObject({ query: 'fo', start: 6, end: text.length, weight: null });
    expect(c?.suggestions).toEqual(['foo', 'Forest', 'bar_fo']);
    expect(loraCompletionAt('<lora:', 6, names)?.suggestions).toEqual(names);
    expect(loraCompletionAt('<LoRA:det', 9, names)?.suggestions).toEqual(['detail tweaker']);
    expect(loraCompletionAt('<lora:detail t', 14, names)?.suggestions).toEqual(['detail tweaker']);
  });

  test('no completion outside a tag, after its name, or when nothing matches', () => {
    expect(loraCompletionAt('a cat fo', 8, names)).toBeNull();
    expect(loraCompletionAt('<lora:foo:0.5', 13, names)).toBeNull();
    expect(loraCompletionAt('<lora:foo> fo', 13, names)).toBeNull();
    expect(loraCompletionAt('<lora:qq', 8, names)).toBeNull();
    expect(loraCompletionAt('<lora:fo\nfo', 11, names)).toBeNull();
  });

  test('applying a suggestion writes the whole tag at weight 1 and puts the cursor after it', () => {
    const text = 'a cat <lora:fo, dusk';
    const c = loraCompletionAt(text, 14, names);
    if (!c) throw new Error('no completion');
    expect(mark(applyLoraCompletion(text, c, 'Forest'))).toBe('a cat <lora:Forest:1>|, dusk');
    expect(mark(applyLoraCompletion(text, c, 'Forest', 0.6))).toBe('a cat <lora:Forest:0.6>|, dusk');
  });

  test('editing the name of a finished tag replaces the whole tag and keeps its weight', () => {
    const text = 'x <lora:fo|o:0.5> y';
    const { text: plain, start } = parse(text);
    const c = loraCompletionAt(plain, start, names);
    expect(c).toMatchObject({ query: 'fo', weight: 0.5, start: 2, end: 16 });
    if (!c) throw new Error('no completion');
    expect(mark(applyLoraCompletion(plain, c, 'Forest'))).toBe('x <lora:Forest:0.5>| y');
  });
});

describe('LoRA tags in the prompt (the picker)', () => {
  test('reads names and weights; a missing or bad weight is 1', () => {
    expect(
      lorasInPrompt('a <lora:foo:0.7> b <lora:Bar> <lora:baz:x> <lora:q:0.5:0.2>').map((t) => [t.name, t.weight]),
    ).toEqual([
      ['foo', 0.7],
      ['Bar', 1],
      ['baz', 1],
      ['q', 0.5],
    ]);
    expect(lorasInPrompt('no tags (here:1.2)')).toEqual([]);
  });

  test('adding appends the tag after a space', () => {
    expect(setLoraInPrompt('a cat', 'foo', 1)).toBe('a cat <lora:foo:1>');
    expect(setLoraInPrompt('', 'foo', 0.75)).toBe('<lora:foo:0.75>');
    expect(setLoraInPrompt('a cat ', 'foo', 1)).toBe('a cat <lora:foo:1>');
  });

  test('re-weighting changes every tag of that name, whatever its case, and keeps the rest', () => {
    expect(setLoraInPrompt('a <lora:Foo:1> cat <lora:bar:0.5>', 'foo', 0.8)).toBe(
      'a <lora:Foo:0.8> cat <lora:bar:0.5>',
    );
    expect(setLoraInPrompt('<lora:foo> and <lora:foo:0.2>', 'foo', 1.25)).toBe('<lora:foo:1.25> and <lora:foo:1.25>');
  });

  test('removing takes the tag and the space before it', () => {
    expect(setLoraInPrompt('a cat <lora:foo:1>', 'foo', null)).toBe('a cat');
    expect(setLoraInPrompt('a <lora:foo:1>, cat', 'foo', null)).toBe('a, cat');
    expect(setLoraInPrompt('<lora:foo:1> a cat', 'foo', null)).toBe('a cat');
    expect(setLoraInPrompt('a cat', 'foo', null)).toBe('a cat');
  });

  test('a trigger word goes at the end after a comma', () => {
    expect(appendToPrompt('a cat', 'sks style')).toBe('a cat, sks style');
    expect(appendToPrompt('a cat, ', 'sks')).toBe('a cat, sks');
    expect(appendToPrompt('  ', 'sks')).toBe('sks');
    expect(appendToPrompt('a <lora:x:1>', 'sks')).toBe('a <lora:x:1>, sks');
  });

  test('weights and names as prompts write them', () => {
    expect(formatLoraWeight(1)).toBe('1');
    expect(formatLoraWeight(0.8000000001)).toBe('0.8');
    expect(formatLoraWeight(0.7551)).toBe('0.76');
    expect(loraTag('a b', 0.5)).toBe('<lora:a b:0.5>');
    expect(loraPromptName('loras/detail tweaker.safetensors')).toBe('detail tweaker');
    expect(loraPromptName('loras/sub/x.v2.safetensors')).toBe('x.v2');
  });
});
