/**
 * CLIP's byte-level BPE tokenizer, built from a model's own `vocab.json` and `merges.txt`. It gives
 * the ids of openai/CLIP's `SimpleTokenizer`, which Hugging Face's slow `CLIPTokenizer` (with ftfy
 * installed) gives too for ordinary prompts:
 * - text cleaning as `SimpleTokenizer` without ftfy: Unicode NFC (as ftfy does), HTML entities
 *   unescaped twice, whitespace collapsed, trimmed, lower-cased;
 * - CLIP's pre-tokenizing pattern, each piece's UTF-8 bytes mapped to printable characters
 *   (`bytes_to_unicode`), the last one marked with `</w>`, then merged by rank.
 * Not reproduced: ftfy's other repairs (it straightens curly quotes, splits ligatures, narrows
 * fullwidth forms and undoes mojibake; here such text is tokenized as written), and HTML5 named
 * entities outside HTML 4 (`&bigstar;` stays text). Special tokens are recognised in text only as
 * `SimpleTokenizer` does (`<|startoftext|>`, `<|endoftext|>`); SD 2's pad token `!` is ordinary text.
 * Textual-inversion embeddings (`addEmbedding`) are found as A1111 finds them: the name as a whole
 * word, whatever its case, standing for the ids of the vectors appended to the encoder's token table.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineError } from '../EngineError';

export interface ClipTokenizerOptions {
  /** Defaults to the id of the config's bos token, else of `<|startoftext|>`. */
  bosId?: number;
  /** Defaults to the id of the config's eos token, else of `<|endoftext|>`. */
  eosId?: number;
  /** Wins over `padToken`. */
  padId?: number;
  /**
   * The padding token: `<|endoftext|>` for SD 1.x (pads with eos, 49407), `!` for SD 2.x and SDXL's
   * second encoder (id 0). Defaults to the config's `pad_token`, else to the eos token.
   */
  padToken?: string;
  /** The encoder's sequence length, bos and eos included. Defaults to the config's, else 77. */
  maxLength?: number;
}

const START_OF_TEXT = '<|startoftext|>';
const END_OF_TEXT = '<|endoftext|>';
const DEFAULT_MAX_LENGTH = 77;
/** Hugging Face's CLIPTokenizer (like SimpleTokenizer) reads at most this many merges. */
const MAX_MERGES = 49152 - 256 - 2;
const CACHE_LIMIT = 50_000;

// ---------------------------------------------------------------------------------------------------
// bytes_to_unicode: every byte as a printable character, the printable Latin-1 ones as themselves.

const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return chars;
})();

const utf8 = new TextEncoder();

function byteEncode(text: string): string {
  let out = '';
  for (const byte of utf8.encode(text)) out += BYTE_TO_CHAR[byte]!;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Python's html.unescape (numeric references and the HTML 4 named ones, with the legacy forms that
// need no semicolon, marked `~`).

const NAMED_ENTITIES: ReadonlyMap<string, string> = (() => {
  const table =
    'AElig~=c6 AMP~=26 Aacute~=c1 Acirc~=c2 Agrave~=c0 Alpha=391 Aring~=c5 Atilde~=c3 Auml~=c4 Beta=392 ' +
    'COPY~=a9 Ccedil~=c7 Chi=3a7 Dagger=2021 Delta=394 ETH~=d0 Eacute~=c9 Ecirc~=ca Egrave~=c8 ' +
    'Epsilon=395 Eta=397 Euml~=cb GT~=3e Gamma=393 Iacute~=cd Icirc~=ce Igrave~=cc Iota=399 Iuml~=cf ' +
    'Kappa=39a LT~=3c Lambda=39b Mu=39c Ntilde~=d1 Nu=39d OElig=152 Oacute~=d3 Ocirc~=d4 Ograve~=d2 ' +
    'Omega=3a9 Omicron=39f Oslash~=d8 Otilde~=d5 Ouml~=d6 Phi=3a6 Pi=3a0 Prime=2033 Psi=3a8 QUOT~=22 ' +
    'REG~=ae Rho=3a1 Scaron=160 Sigma=3a3 THORN~=de Tau=3a4 Theta=398 Uacute~=da Ucirc~=db Ugrave~=d9 ' +
    'Upsilon=3a5 Uuml~=dc Xi=39e Yacute~=dd Yuml=178 Zeta=396 aacute~=e1 acirc~=e2 acute~=b4 aelig~=e6 ' +
    'agrave~=e0 alefsym=2135 alpha=3b1 amp~=26 and=2227 ang=2220 apos=27 aring~=e5 asymp=2248 atilde~=e3 ' +
    'auml~=e4 bdquo=201e beta=3b2 brvbar~=a6 bull=2022 cap=2229 ccedil~=e7 cedil~=b8 cent~=a2 chi=3c7 ' +
    'circ=2c6 clubs=2663 cong=2245 copy~=a9 crarr=21b5 cup=222a curren~=a4 dArr=21d3 dagger=2020 ' +
    'darr=2193 deg~=b0 delta=3b4 diams=2666 divide~=f7 eacute~=e9 ecirc~=ea egrave~=e8 empty=2205 ' +
    'emsp=2003 ensp=2002 epsilon=3b5 equiv=2261 eta=3b7 eth~=f0 euml~=eb euro=20ac exist=2203 fnof=192 ' +
    'forall=2200 frac12~=bd frac14~=bc frac34~=be frasl=2044 gamma=3b3 ge=2265 gt~=3e hArr=21d4 harr=2194 ' +
    'hearts=2665 hellip=2026 iacute~=ed icirc~=ee iexcl~=a1 igrave~=ec image=2111 infin=221e int=222b ' +
    'iota=3b9 iquest~=bf isin=2208 iuml~=ef kappa=3ba lArr=21d0 lambda=3bb lang=27e8 laquo~=ab larr=2190 ' +
    'lceil=2308 ldquo=201c le=2264 lfloor=230a lowast=2217 loz=25ca lrm=200e lsaquo=2039 lsquo=2018 ' +
    'lt~=3c macr~=af mdash=2014 micro~=b5 middot~=b7 minus=2212 mu=3bc nabla=2207 nbsp~=a0 ndash=2013 ' +
    'ne=2260 ni=220b not~=ac notin=2209 nsub=2284 ntilde~=f1 nu=3bd oacute~=f3 ocirc~=f4 oelig=153 ' +
    'ograve~=f2 oline=203e omega=3c9 omicron=3bf oplus=2295 or=2228 ordf~=aa ordm~=ba oslash~=f8 ' +
    'otilde~=f5 otimes=2297 ouml~=f6 para~=b6 part=2202 permil=2030 perp=22a5 phi=3c6 pi=3c0 piv=3d6 ' +
    'plusmn~=b1 pound~=a3 prime=2032 prod=220f prop=221d psi=3c8 quot~=22 rArr=21d2 radic=221a rang=27e9 ' +
    'raquo~=bb rarr=2192 rceil=2309 rdquo=201d real=211c reg~=ae rfloor=230b rho=3c1 rlm=200f rsaquo=203a ' +
    'rsquo=2019 sbquo=201a scaron=161 sdot=22c5 sect~=a7 shy~=ad sigma=3c3 sigmaf=3c2 sim=223c ' +
    'spades=2660 sub=2282 sube=2286 sum=2211 sup=2283 sup1~=b9 sup2~=b2 sup3~=b3 supe=2287 szlig~=df ' +
    'tau=3c4 there4=2234 theta=3b8 thetasym=3d1 thinsp=2009 thorn~=fe tilde=2dc times~=d7 trade=2122 ' +
    'uArr=21d1 uacute~=fa uarr=2191 ucirc~=fb ugrave~=f9 uml~=a8 upsih=3d2 upsilon=3c5 uuml~=fc ' +
    'weierp=2118 xi=3be yacute~=fd yen~=a5 yuml~=ff zeta=3b6 zwj=200d zwnj=200c ';
  const map = new Map<string, string>();
  for (const entry of table.trim().split(' ')) {
    const [name, hex] = entry.split('=') as [string, string];
    const char = String.fromCodePoint(parseInt(hex, 16));
    const bare = name.replace('~', '');
    map.set(`${bare};`, char);
    if (name.endsWith('~')) map.set(bare, char);
  }
  return map;
})();

/** What Python maps the numeric references 0x80-0x9f to (windows-1252). */
const CP1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

function isInvalidCodePoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe
  );
}

const CHAR_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function replaceCharReference(_match: string, ref: string): string {
  if (ref.startsWith('#')) {
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const cp = parseInt(ref.slice(hex ? 2 : 1).replace(/;$/, ''), hex ? 16 : 10);
    if (cp === 0) return '\ufffd';
    if (cp === 0x0d) return '\r';
    if (cp >= 0x80 && cp <= 0x9f) return CP1252_C1[cp - 0x80]!;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
    if (isInvalidCodePoint(cp)) return '';
    return String.fromCodePoint(cp);
  }
  const named = NAMED_ENTITIES.get(ref);
  if (named !== undefined) return named;
  // The longest known prefix, as the HTML standard (and Python) read `&ampfoo`.
  const chars = [...ref];
  for (let length = chars.length - 1; length > 1; length--) {
    const prefix = chars.slice(0, length).join('');
    const value = NAMED_ENTITIES.get(prefix);
    if (value !== undefined) return value + chars.slice(length).join('');
  }
  return `&${ref}`;
}

function htmlUnescape(text: string): string {
  return text.includes('&') ? text.replace(CHAR_REFERENCE, replaceCharReference) : text;
}

// ---------------------------------------------------------------------------------------------------
// Cleaning and pre-tokenizing.

/** Python's `str.isspace` set, which `str.strip()` uses. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** The `regex` module's `\s` (Unicode White_Space, without U+001C..U+001F), which CLIP's code uses. */
const UNICODE_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${UNICODE_SPACE}]+`, 'gu');
const EDGE_SPACE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');
const TOKEN_PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${UNICODE_SPACE}\\p{L}\\p{N}]+`,
  'giu',
);

/** `whitespace_clean(basic_clean(text)).lower()` of SimpleTokenizer, with NFC standing in for ftfy. */
export function cleanClipText(text: string): string {
  const unescaped = htmlUnescape(htmlUnescape(text.normalize('NFC')));
  return unescaped.replace(EDGE_SPACE, '').replace(SPACE_RUN, ' ').replace(EDGE_SPACE, '').toLowerCase();
}

// ---------------------------------------------------------------------------------------------------

interface TokenizerFileConfig {
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  maxLength?: number;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'content' in value && typeof value.content === 'string') {
    return value.content;
  }
  return undefined;
}

function readJsonIfPresent(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  throw new EngineError('model', 'The tokenizer configuration is not a JSON object.', path);
}

/** tokenizer_config.json, then special_tokens_map.json over it (as Hugging Face reads them). */
function readTokenizerConfig(folder: string): TokenizerFileConfig {
  const config: TokenizerFileConfig = {};
  for (const file of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const json = readJsonIfPresent(join(folder, file));
    if (!json) continue;
    config.bosToken = tokenContent(json.bos_token) ?? config.bosToken;
    config.eosToken = tokenContent(json.eos_token) ?? config.eosToken;
    config.padToken = tokenContent(json.pad_token) ?? config.padToken;
    const maxLength = json.model_max_length;
    // Configs without a limit store a huge sentinel (1e30); only a real sequence length counts.
    if (typeof maxLength === 'number' && Number.isInteger(maxLength) && maxLength > 2 && maxLength <= 4096) {
      config.maxLength = maxLength;
    }
  }
  return config;
}

function readModelFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new EngineError('model', `The tokenizer file ${path} is missing.`, path);
    throw error;
  }
}

function parseMerges(text: string, file?: string): Map<string, number> {
  const lines = text.trim().split(/\r?\n/);
  if (lines[0]?.startsWith('#')) lines.shift();
  const ranks = new Map<string, number>();
  for (const line of lines.slice(0, MAX_MERGES)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new EngineError('model', `A line of merges.txt is not a pair: "${line}".`, file);
    const key = `${parts[0]} ${parts[1]}`;
    if (!ranks.has(key)) ranks.set(key, ranks.size);
  }
  return ranks;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** The encoder's sequence length, bos and eos included (77). */
  readonly maxLength: number;

  private readonly encoder: Map<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, readonly string[]>();
  private readonly added = new Map<string, number>();
  private addedPattern: RegExp | undefined;
  /** Embedding names (lower-cased) -> their placeholder tokens; placeholder -> id. */
  private readonly embeddings = new Map<string, readonly string[]>();
  private readonly embeddingTokens = new Map<string, number>();
  /** First id of each embedding -> how many vectors (ids) it stands for. */
  private readonly embeddingStarts = new Map<number, number>();
  private embeddingPattern: RegExp | undefined;
  private nextId: number;

  private constructor(
    encoder: Map<string, number>,
    ranks: Map<string, number>,
    options: ClipTokenizerOptions,
    config: TokenizerFileConfig,
    file?: string,
  ) {
    this.encoder = encoder;
    this.ranks = ranks;
    const idOf = (token: string, role: string): number => {
      const id = encoder.get(token);
      if (id === undefined) throw new EngineError('model', `The vocabulary has no ${role} token "${token}".`, file);
      return id;
    };
    this.bosId = options.bosId ?? idOf(config.bosToken ?? START_OF_TEXT, 'start');
    this.eosId = options.eosId ?? idOf(config.eosToken ?? END_OF_TEXT, 'end');
    const padToken = options.padToken ?? config.padToken;
    this.padId = options.padId ?? (padToken === undefined ? this.eosId : idOf(padToken, 'padding'));
    this.maxLength = options.maxLength ?? config.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 3) {
      throw new EngineError('input', `A tokenizer needs a sequence length of at least 3 (got ${this.maxLength}).`);
    }
    let maxId = -1;
    for (const id of encoder.values()) maxId = Math.max(maxId, id);
    this.nextId = maxId + 1;
  }

  /**
   * Reads `vocab.json` and `merges.txt`, and `tokenizer_config.json` / `special_tokens_map.json` from
   * the vocabulary's folder when they are there (for the special tokens and the sequence length).
   * `options` win over the files.
   */
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const vocabText = readModelFile(vocabJsonPath);
    const mergesText = readModelFile(mergesTxtPath);
    let vocab: unknown;
    try {
      vocab = JSON.parse(vocabText);
    } catch {
      throw new EngineError('model', 'vocab.json is not valid JSON.', vocabJsonPath);
    }
    return new ClipTokenizer(
      parseVocab(vocab, vocabJsonPath),
      parseMerges(mergesText, mergesTxtPath),
      options,
      readTokenizerConfig(dirname(vocabJsonPath)),
      vocabJsonPath,
    );
  }

  /** A Hugging Face `tokenizer/` folder: `vocab.json`, `merges.txt` and the optional configs. */
  static fromModelFolder(folder: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    return ClipTokenizer.fromFiles(join(folder, 'vocab.json'), join(folder, 'merges.txt'), options);
  }

  /** From the contents of `vocab.json` (parsed) and `merges.txt` (text). */
  static fromData(vocab: Record<string, number>, merges: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    return new ClipTokenizer(parseVocab(vocab), parseMerges(merges), options, {});
  }

  /** The id of a vocabulary entry (`',</w>'`) or added token, if there is one. */
  tokenId(token: string): number | undefined {
    return this.added.get(token) ?? this.embeddingTokens.get(token) ?? this.encoder.get(token);
  }

  /** When `id` is the first id of an embedding, how many ids (vectors) the embedding has. */
  embeddingLength(id: number): number | undefined {
    return this.embeddingStarts.get(id);
  }

  /** Names of the embeddings added with `addEmbedding`, lower-cased. */
  get embeddingNames(): string[] {
    return [...this.embeddings.keys()];
  }

  /** Token ids of `text`, without bos, eos, padding or truncation. */
  encode(text: string): number[] {
    return this.tokenize(text).map((token) => this.tokenId(token) ?? this.eosId);
  }

  /** `[bos, ...encode(text), eos]`, neither padded nor truncated (what the prompt counter shows). */
  encodeWithSpecials(text: string): number[] {
    return [this.bosId, ...this.encode(text), this.eosId];
  }

  /** The BPE tokens of `text` (`'fox</w>'`), added tokens as they were added. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const segment of this.splitOnAddedTokens(text)) {
      if (segment.added) {
        tokens.push(segment.text);
        continue;
      }
      for (const part of this.splitOnEmbeddings(segment.text)) {
        if (typeof part !== 'string') {
          tokens.push(...part.tokens);
          continue;
        }
        for (const match of cleanClipText(part).matchAll(TOKEN_PATTERN)) {
          tokens.push(...this.bpe(byteEncode(match[0])));
        }
      }
    }
    return tokens;
  }

  /**
   * Makes `name` stand for `ids`: a textual-inversion embedding whose vectors were appended to the text
   * encoder's token table at those ids. Like A1111, the name is recognised in a prompt as a whole word
   * (not inside a longer run of letters, digits or `_`), whatever its case: `EasyNegative` is found in
   * `(easynegative:1.2)`, but not in `easynegatives`. Longer names win where names overlap.
   */
  addEmbedding(name: string, ids: readonly number[]): void {
    const key = name.trim().toLowerCase();
    if (key.length === 0) throw new EngineError('input', 'An embedding name cannot be empty.');
    if (ids.length === 0) throw new EngineError('input', `Embedding "${name}" has no vectors.`);
    const placeholders = ids.map((id, i) => {
      if (!Number.isInteger(id) || id < 0) throw new EngineError('input', `Token ids are whole numbers ≥ 0.`);
      const token = `<embedding:${key}:${i}>`;
      this.embeddingTokens.set(token, id);
      this.nextId = Math.max(this.nextId, id + 1);
      return token;
    });
    this.embeddings.set(key, placeholders);
    this.embeddingStarts.set(ids[0] as number, ids.length);
    const alternatives = [...this.embeddings.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.embeddingPattern = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
  }

  private *splitOnEmbeddings(text: string): Generator<string | { tokens: readonly string[] }> {
    if (!this.embeddingPattern) {
      yield text;
      return;
    }
    let last = 0;
    for (const match of text.matchAll(this.embeddingPattern)) {
      if (match.index > last) yield text.slice(last, match.index);
      yield { tokens: this.embeddings.get(match[0].toLowerCase()) ?? [] };
      last = match.index + match[0].length;
    }
    if (last < text.length) yield text.slice(last);
  }

  /**
   * Adds a token that is matched in raw text (case-sensitive) before cleaning, as Hugging Face's
   * `add_tokens` does; used for textual-inversion embeddings. Returns its id: `id` when given, else
   * the next free one.
   */
  addToken(token: string, id?: number): number {
    if (token.length === 0) throw new EngineError('input', 'An added token cannot be empty.');
    const existing = this.added.get(token) ?? this.encoder.get(token);
    if (existing !== undefined) {
      if (id === undefined || id === existing) return existing;
      throw new EngineError('input', `The token "${token}" already has the id ${existing}.`);
    }
    const newId = id ?? this.nextId;
    if (!Number.isInteger(newId) || newId < 0) throw new EngineError('input', `Token ids are whole numbers ≥ 0.`);
    this.added.set(token, newId);
    this.nextId = Math.max(this.nextId, newId + 1);
    const alternatives = [...this.added.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.addedPattern = new RegExp(alternatives.join('|'), 'gu');
    return newId;
  }

  private *splitOnAddedTokens(text: string): Generator<{ text: string; added: boolean }> {
    if (!this.addedPattern) {
      yield { text, added: false };
      return;
    }
    let last = 0;
    for (const match of text.matchAll(this.addedPattern)) {
      if (match.index > last) yield { text: text.slice(last, match.index), added: false };
      yield { text: match[0], added: true };
      last = match.index + match[0].length;
    }
    if (last < text.length) yield { text: text.slice(last), added: false };
  }

  /** Byte-level BPE of one pre-token (already byte-encoded), as CLIP's `bpe`. */
  private bpe(token: string): readonly string[] {
    if (token === START_OF_TEXT || token === END_OF_TEXT) return [token];
    const cached = this.cache.get(token);
    if (cached) return cached;

    let word = [...token];
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (word[i] === first && word[i + 1] === second && i + 1 < word.length) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }

    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}

function parseVocab(vocab: unknown, file?: string): Map<string, number> {
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) {
    throw new EngineError('model', 'vocab.json must map tokens to ids.', file);
  }
  const encoder = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new EngineError('model', `vocab.json gives "${token}" an id that is not a whole number.`, file);
    }
    encoder.set(token, id);
  }
  return encoder;
}
