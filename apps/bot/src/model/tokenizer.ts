import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base'
import * as o200k from 'gpt-tokenizer/encoding/o200k_base'

/**
 * Token counts with OpenAI's own byte-pair encodings (gpt-tokenizer ships their ranks in the
 * package, so nothing downloads). Other vendors' tokenizers differ; the OpenAI-compatible model
 * keeps a margin on its reservation for that.
 */
export interface Tokenizer {
  readonly encoding: 'o200k_base' | 'cl100k_base'
  encode(text: string): number[]
  decode(tokens: number[]): string
  count(text: string): number
}

const O200K: Tokenizer = {
  encoding: 'o200k_base',
  encode: (text) => o200k.encode(text),
  decode: (tokens) => o200k.decode(tokens),
  count: (text) => o200k.countTokens(text),
}

const CL100K: Tokenizer = {
  encoding: 'cl100k_base',
  encode: (text) => cl100k.encode(text),
  decode: (tokens) => cl100k.decode(tokens),
  count: (text) => cl100k.countTokens(text),
}

// gpt-4, gpt-3.5 and the older embeddings were trained on cl100k; gpt-4o and everything after on o200k.
const CL100K_MODELS = /^(?:gpt-4(?:$|-)|gpt-3\.5|text-embedding-(?:ada|3))/i

/** The encoding of a model family: cl100k for gpt-4 and gpt-3.5, o200k for gpt-4o, 4.1, 5, o-series and the rest. */
export function tokenizerFor(model: string): Tokenizer {
  const name = model.split('/').at(-1) ?? model
  return CL100K_MODELS.test(name) ? CL100K : O200K
}

/** Tokens of `text` in `model`'s encoding (o200k when unsaid: the offline model's too). */
export const countTokens = (text: string, model = 'offline'): number =>
  text === '' ? 0 : tokenizerFor(model).count(text)

/**
 * The longest start of `text` that is at most `max` tokens, cut on a token boundary that does not
 * split a character (a cut inside a multi-byte character would re-count differently).
 */
export function truncateToTokens(text: string, max: number, model = 'offline'): string {
  const tokenizer = tokenizerFor(model)
  const tokens = tokenizer.encode(text)
  if (tokens.length <= max) return text
  for (let n = max; n > 0; n--) {
    const cut = tokenizer.decode(tokens.slice(0, n))
    if (!cut.includes('\uFFFD') && tokenizer.count(cut) <= max) return cut
  }
  return ''
}
