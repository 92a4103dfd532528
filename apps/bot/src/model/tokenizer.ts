/**
 * A small deterministic tokenizer in the spirit of BPE pre-tokenization: a word with its leading
 * space is one token up to 4 characters and one more per further 4 (the ~4 characters per token
 * of English text); each punctuation mark or symbol is its own token, and so is each emoji.
 * It is not any vendor's tokenizer; it counts what the offline model produces honestly and the
 * same way every time, which is what metering needs.
 */
const PIECES = /\s?[\p{L}\p{M}\p{N}_]+|\s?[^\s\p{L}\p{M}\p{N}_]|\s+/gu

export function tokenize(text: string): string[] {
  const tokens: string[] = []
  for (const [piece] of text.matchAll(PIECES)) {
    const chars = [...piece]
    if (chars.length <= 4 || /^\s+$/.test(piece)) {
      tokens.push(piece)
      continue
    }
    for (let i = 0; i < chars.length; i += 4) tokens.push(chars.slice(i, i + 4).join(''))
  }
  return tokens
}

export const countTokens = (text: string): number => tokenize(text).length
