/**
 * Prompt editing as pure functions of (text, selection): the attention-weight nudge of A1111's
 * `edit-attention.js` (Ctrl+Up/Down), `<lora:` completion, and adding, re-weighting or removing a
 * `<lora:NAME:W>` tag (the LoRA picker). Each returns the new text and selection; the textarea
 * applies them.
 *
 * A1111 semantics of the nudge, which artists' muscle memory expects:
 * - with a selection, that text is weighted; without one, the cursor picks, in order, the inside of
 *   an enclosing `<…>` (a LoRA tag: its weight moves by 0.05), `(…)` or `[…]` block, else the word
 *   under the cursor (delimited by `.,\/!?%^*;:{}=`~()`, spaces, tabs and newlines);
 * - `word` becomes `(word:1.1)`, `(word:1.1)` becomes `(word:1.2)`, and a weight that reaches 1.0
 *   drops the parentheses again; old-style `((word))` and `[word]` are first converted to their
 *   weights (1.1 per `()` level, 1/1.1 per `[]` level, rounded to the step);
 * - the selection stays on the weighted text, so that repeated presses keep nudging it.
 */

export interface TextEdit {
  text: string;
  selectionStart: number;
  selectionEnd: number;
}

export interface NudgeOptions {
  /** Step for `(…)` weights (A1111's keyedit_precision_attention). */
  attentionStep?: number;
  /** Step for `<lora:…:W>` weights (A1111's keyedit_precision_extra). */
  extraStep?: number;
}

const WORD_DELIMITERS = '.,\\/!?%^*;:{}=`~() \t\r\n';

/** 12 significant digits, as A1111 does, and an integer written `1.0` so that it stays a weight. */
export function formatWeight(weight: number): string {
  const w = parseFloat(weight.toPrecision(12));
  return Number.isInteger(w) ? `${w}.0` : String(w);
}

/** The inside of the `open…close` block around an empty selection, up to the weight's colon. */
function blockAround(text: string, at: number, open: string, close: string): [number, number] | null {
  const before = text.slice(0, at);
  const openAt = before.lastIndexOf(open);
  if (openAt < 0 || before.lastIndexOf(close) > openAt) return null;
  const after = text.slice(at);
  const closeAt = after.indexOf(close);
  if (closeAt < 0) return null;
  const nextOpen = after.indexOf(open);
  if (nextOpen >= 0 && nextOpen < closeAt) return null;
  const content = text.slice(openAt + 1, at + closeAt);
  const start = openAt + 1;
  return /:-?[\d.]+\s*$/s.test(content) ? [start, start + content.lastIndexOf(':')] : [start, start + content.length];
}

function wordAround(text: string, at: number): [number, number] {
  let start = at;
  let end = at;
  while (start > 0 && !WORD_DELIMITERS.includes(text[start - 1] as string)) start--;
  while (end < text.length && !WORD_DELIMITERS.includes(text[end] as string)) end++;
  return [start, end];
}

/**
 * Ctrl+Up (`direction` +1) or Ctrl+Down (-1): the weight of the selection, or of what the cursor
 * is in, moves by one step. Returns null when there is nothing to weight (the cursor on a space).
 */
export function nudgeWeight(
  text: string,
  selectionStart: number,
  selectionEnd: number,
  direction: 1 | -1,
  options: NudgeOptions = {},
): TextEdit | null {
  const attentionStep = options.attentionStep ?? 0.1;
  let start = Math.min(selectionStart, selectionEnd);
  let end = Math.max(selectionStart, selectionEnd);
  if (start === end) {
    const range =
      blockAround(text, start, '<', '>') ??
      blockAround(text, start, '(', ')') ??
      blockAround(text, start, '[', ']') ??
      wordAround(text, start);
    [start, end] = range;
  }
  // Never weight the spaces around a selection.
  while (start < end && /\s/.test(text[start] as string)) start++;
  while (end > start && /\s/.test(text[end - 1] as string)) end--;
  if (start === end) return null;

  const before = start > 0 ? (text[start - 1] as string) : '';
  const after = text[end] ?? '';
  let close = ')';
  let step = attentionStep;
  if (before === '<') {
    close = '>';
    step = options.extraStep ?? 0.05;
  } else if ((before === '(' && after === ')') || (before === '[' && after === ']')) {
    // Old-style emphasis: ((word)) or [word] becomes (word:W) first.
    let levels = 0;
    while (text[start - levels - 1] === before && text[end + levels] === after) levels++;
    const raw = before === '[' ? (1 / 1.1) ** levels : 1.1 ** levels;
    const weight = Math.round(raw / attentionStep) * attentionStep;
    text = `${text.slice(0, start - levels)}(${text.slice(start, end)}:${formatWeight(weight)})${text.slice(end + levels)}`;
    start -= levels - 1;
    end -= levels - 1;
  } else if (!(before === '(' && after === ':')) {
    text = `${text.slice(0, start)}(${text.slice(start, end)}:1.0)${text.slice(end)}`;
    start++;
    end++;
  }

  if (text[end] !== ':') return null;
  const weightEnd = text.indexOf(close, end + 1);
  if (weightEnd < 0) return null;
  const current = parseFloat(text.slice(end + 1, weightEnd));
  if (Number.isNaN(current)) return null;
  const next = parseFloat((current + direction * step).toPrecision(12));
  if (close === ')' && next === 1) {
    return {
      text: text.slice(0, start - 1) + text.slice(start, end) + text.slice(weightEnd + 1),
      selectionStart: start - 1,
      selectionEnd: end - 1,
    };
  }
  return {
    text: text.slice(0, end + 1) + formatWeight(next) + text.slice(weightEnd),
    selectionStart: start,
    selectionEnd: end,
  };
}

// ---------------------------------------------------------------------------------------------
// LoRA tags
// ---------------------------------------------------------------------------------------------

export interface LoraCompletion {
  /** What has been typed of the name so far. */
  query: string;
  /** The span of the partial tag that applying a suggestion replaces (from its `<`). */
  start: number;
  end: number;
  /** The weight already written after the name, kept when a suggestion replaces the name. */
  weight: number | null;
  /** Matching names: prefix matches first, then those containing the query; at most `limit`. */
  suggestions: string[];
}

/**
 * The `<lora:` completion at the cursor: non-null while the cursor sits in the name part of a
 * `<lora:` tag (typed or being edited) and some LoRA name matches what is typed there.
 */
export function loraCompletionAt(
  text: string,
  cursor: number,
  names: readonly string[],
  limit = 12,
): LoraCompletion | null {
  const head = /<lora:([^<>:\n]*)$/i.exec(text.slice(0, cursor));
  if (!head) return null;
  const start = head.index;
  const query = head[1] ?? '';
  // Editing the name of a finished tag: the rest of the name, perhaps `:weight`, then `>`.
  const rest = text.slice(cursor);
  const closed = /^[^<>:\n]*(?::([^<>:\n]*))?(?::[^<>\n]*)?>/.exec(rest);
  // Typing a new tag: only the word the cursor is in (the prompt goes on after a space or comma).
  const end = cursor + (closed ? closed[0].length : (/^[^<>:\s,]*/.exec(rest)?.[0].length ?? 0));
  const weightText = closed?.[1];
  const weight = weightText !== undefined && weightText.trim() !== '' ? Number(weightText) : null;
  const q = query.trim().toLowerCase();
  const prefix = names.filter((n) => n.toLowerCase().startsWith(q));
  const inside = names.filter((n) => !n.toLowerCase().startsWith(q) && n.toLowerCase().includes(q));
  const suggestions = [...prefix, ...inside].slice(0, limit);
  if (suggestions.length === 0) return null;
  return { query, start, end, weight: weight !== null && Number.isFinite(weight) ? weight : null, suggestions };
}

/** A LoRA weight as written in a tag: up to 2 decimals, no trailing zeros (`1`, `0.8`, `0.75`). */
export function formatLoraWeight(weight: number): string {
  return String(Math.round(weight * 100) / 100);
}

export function loraTag(name: string, weight: number): string {
  return `<lora:${name}:${formatLoraWeight(weight)}>`;
}

/** Replaces the partial tag of `completion` with the full `<lora:NAME:W>`; the cursor goes after it. */
export function applyLoraCompletion(text: string, completion: LoraCompletion, name: string, weight = 1): TextEdit {
  const tag = loraTag(name, completion.weight ?? weight);
  const next = text.slice(0, completion.start) + tag + text.slice(completion.end);
  const cursor = completion.start + tag.length;
  return { text: next, selectionStart: cursor, selectionEnd: cursor };
}

const TAG = /<lora:([^<>:]+)(?::([^<>:]*))?(?::[^<>]*)?>/gi;

/** The `<lora:NAME:W>` tags of a prompt (a missing or unreadable weight is 1, as A1111 reads it). */
export function lorasInPrompt(prompt: string): { name: string; weight: number; start: number; end: number }[] {
  const out: { name: string; weight: number; start: number; end: number }[] = [];
  for (const m of prompt.matchAll(TAG)) {
    const raw = m[2]?.trim();
    const w = raw === undefined || raw === '' ? 1 : Number(raw);
    out.push({
      name: m[1] as string,
      weight: Number.isFinite(w) ? w : 1,
      start: m.index,
      end: m.index + m[0].length,
    });
  }
  return out;
}

/**
 * Sets LoRA `name` in the prompt: re-weights its tag where it has one (every tag of that name,
 * matched without regard to case), appends `<lora:name:W>` (after a space) where it has none, and
 * with `weight` null removes its tags with the space before each.
 */
export function setLoraInPrompt(prompt: string, name: string, weight: number | null): string {
  const tags = lorasInPrompt(prompt).filter((t) => t.name.toLowerCase() === name.toLowerCase());
  if (tags.length === 0) {
    if (weight === null) return prompt;
    const separator = prompt === '' || /\s$/.test(prompt) ? '' : ' ';
    return `${prompt}${separator}${loraTag(name, weight)}`;
  }
  let out = prompt;
  // Right to left, so that earlier offsets stay valid.
  for (const tag of [...tags].reverse()) {
    if (weight === null) {
      let from = tag.start;
      while (from > 0 && (out[from - 1] === ' ' || out[from - 1] === '\t')) from--;
      const to = from === 0 ? tag.end + (/^[ \t]+/.exec(out.slice(tag.end))?.[0].length ?? 0) : tag.end;
      out = out.slice(0, from) + out.slice(to);
    } else {
      out = out.slice(0, tag.start) + loraTag(tag.name, weight) + out.slice(tag.end);
    }
  }
  return out;
}

/** The name a LoRA is called by in prompts: its file name without the extension (`loras/a b.safetensors` -> `a b`). */
export function loraPromptName(libraryId: string): string {
  const file = libraryId.split('/').pop() ?? libraryId;
  return file.replace(/\.[^.]+$/, '');
}

/** `words` added at the end of the prompt after a comma (a trigger word from the LoRA picker). */
export function appendToPrompt(prompt: string, words: string): string {
  const trimmed = prompt.replace(/[\s,]+$/, '');
  return trimmed === '' ? words : `${trimmed}, ${words}`;
}
