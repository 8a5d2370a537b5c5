/**
 * Turns what a user typed into a safe FTS5 query. Every whitespace-separated word becomes a quoted
 * FTS5 string (quotes inside doubled), so FTS5 syntax in a prompt (`AND`, `OR`, `NOT`, `NEAR`, `*`,
 * `-`, `^`, `:`, parentheses, quotes) is searched for as text, never parsed as an operator. Words are
 * ANDed and match whole tokens, case- and accent-insensitively. No prefix matching: a short prefix
 * expands to hundreds of index terms and made a page of 100,000 generations take over a second.
 *
 * A word with no letter or digit (`-`, `*`, `(`, `"`) has no token to look for and is dropped; when
 * nothing is left the result is null: no search constraint at all.
 */
export function toFtsQuery(text: string): string | null {
  const words = text
    .normalize('NFC')
    .split(/\s+/u)
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return null;
  return words.map((w) => `"${w.replaceAll('"', '""')}"`).join(' ');
}
