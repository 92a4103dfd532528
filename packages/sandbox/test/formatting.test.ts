import { describe, expect, it } from 'vitest'
import { BotApiError } from '../src/errors.ts'
import { formatText } from '../src/formatting.ts'
import type { MessageEntity, User } from '../src/types.ts'

const ALICE: User = { id: 2_000_001, is_bot: false, first_name: 'Alice' }
const users = (id: number) => (id === ALICE.id ? ALICE : undefined)

const format = (text: string, parseMode?: string, entities?: unknown) =>
  formatText(text, parseMode, entities, users)

/** The description Telegram would answer with. */
function refusal(text: string, parseMode?: string, entities?: unknown): string {
  try {
    format(text, parseMode, entities)
  } catch (error) {
    if (error instanceof BotApiError) return error.description
    throw error
  }
  throw new Error(`${text} was accepted`)
}

/** The text an entity covers, cut by UTF-16 offsets as a client does. */
const covered = (text: string, e: MessageEntity) => text.slice(e.offset, e.offset + e.length)

describe('HTML', () => {
  it('strips the markup and returns bold, italic, code, pre with its language and a link', () => {
    const { text, entities } = format(
      '<b>bold</b> and <i>it</i> <code>x</code> <pre><code class="language-ts">let a</code></pre> <a href="https://example.com">link</a>',
      'HTML',
    )
    expect(text).toBe('bold and it x let a link')
    expect(entities).toEqual([
      { type: 'bold', offset: 0, length: 4 },
      { type: 'italic', offset: 9, length: 2 },
      { type: 'code', offset: 12, length: 1 },
      { type: 'pre', offset: 14, length: 5, language: 'ts' },
      { type: 'text_link', offset: 20, length: 4, url: 'https://example.com/' },
    ])
  })

  it('counts offsets in UTF-16 code units (an emoji is two)', () => {
    const { text, entities } = format('😀 <b>é 😀</b> <i>x</i>', 'html')
    expect(text).toBe('😀 é 😀 x')
    expect(entities).toEqual([
      { type: 'bold', offset: 3, length: 4 },
      { type: 'italic', offset: 8, length: 1 },
    ])
    expect(entities.map((e) => covered(text, e))).toEqual(['é 😀', 'x'])
  })

  it('decodes &lt; &gt; &amp; &quot; and numeric references; other & stays', () => {
    expect(format('&lt;b&gt; &amp; &quot;q&quot; &#128512; &#x41; AT&T', 'HTML').text).toBe(
      '<b> & "q" 😀 A AT&T',
    )
  })

  it('nests, and knows u/s/spoiler/blockquote and tg://user mentions', () => {
    const { entities } = format(
      '<b>a<i>b</i></b> <u>u</u> <s>s</s> <tg-spoiler>p</tg-spoiler> <blockquote>q</blockquote> <a href="tg://user?id=2000001">Alice</a>',
      'HTML',
    )
    expect(entities.map((e) => e.type)).toEqual([
      'bold',
      'italic',
      'underline',
      'strikethrough',
      'spoiler',
      'blockquote',
      'text_mention',
    ])
    expect(entities.at(-1)?.user).toEqual(ALICE)
  })

  it("refuses bad markup with Telegram's words and UTF-8 byte offsets", () => {
    const p = "Bad Request: can't parse entities: "
    expect(refusal('<foo>x</foo>', 'HTML')).toBe(`${p}Unsupported start tag "foo" at byte offset 0`)
    expect(refusal('<b>x', 'HTML')).toBe(`${p}Can't find end tag corresponding to start tag "b"`)
    // 😀 is 4 bytes, <b> 3, x 1: the end tag starts at byte 8.
    expect(refusal('😀<b>x</i>', 'HTML')).toBe(
      `${p}Unmatched end tag at byte offset 8, expected "</b>", found "</i>"`,
    )
    expect(refusal('x</b>', 'HTML')).toBe(`${p}Unexpected end tag at byte offset 1`)
    expect(refusal('<b', 'HTML')).toBe(`${p}Unclosed start tag at byte offset 0`)
    expect(refusal('<span>x</span>', 'HTML')).toBe(
      `${p}Tag "span" must have class "tg-spoiler" at byte offset 0`,
    )
  })
})

describe('MarkdownV2', () => {
  it('parses bold, italic, underline, strike, spoiler, code, a link and pre with a language', () => {
    const { text, entities } = format(
      '*bold* _it_ __u__ ~s~ ||sp|| `c` [l](https://t.me/x) ```js\ncode```',
      'MarkdownV2',
    )
    expect(text).toBe('bold it u s sp c l code')
    expect(entities).toEqual([
      { type: 'bold', offset: 0, length: 4 },
      { type: 'italic', offset: 5, length: 2 },
      { type: 'underline', offset: 8, length: 1 },
      { type: 'strikethrough', offset: 10, length: 1 },
      { type: 'spoiler', offset: 12, length: 2 },
      { type: 'code', offset: 15, length: 1 },
      { type: 'text_link', offset: 17, length: 1, url: 'https://t.me/x' },
      { type: 'pre', offset: 19, length: 4, language: 'js' },
    ])
  })

  it('takes escapes, and counts an emoji as two UTF-16 units', () => {
    const { text, entities } = format('😀 *a\\.b* 1\\+1', 'MarkdownV2')
    expect(text).toBe('😀 a.b 1+1')
    expect(entities).toEqual([{ type: 'bold', offset: 3, length: 3 }])
  })

  it('refuses an unescaped reserved character and an unclosed entity', () => {
    const p = "Bad Request: can't parse entities: "
    expect(refusal('Price: 5.00', 'MarkdownV2')).toBe(
      `${p}Character '.' is reserved and must be escaped with the preceding '\\'`,
    )
    expect(refusal('a *b', 'MarkdownV2')).toBe(`${p}Can't find end of Bold entity at byte offset 2`)
  })
})

describe('Markdown (legacy)', () => {
  it('parses *bold*, _italic_, `code`, ```pre``` and [links](…)', () => {
    const { text, entities } = format('*b* _i_ `c` [t](http://x.org) ```py\np```', 'Markdown')
    expect(text).toBe('b i c t p')
    expect(entities).toEqual([
      { type: 'bold', offset: 0, length: 1 },
      { type: 'italic', offset: 2, length: 1 },
      { type: 'code', offset: 4, length: 1 },
      { type: 'text_link', offset: 6, length: 1, url: 'http://x.org/' },
      { type: 'pre', offset: 8, length: 1, language: 'py' },
    ])
  })

  it('refuses an unclosed entity with its byte offset', () => {
    expect(refusal('ok *bold', 'Markdown')).toBe(
      "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 3",
    )
  })
})

describe("the bot's own entities", () => {
  it('are kept (text_link normalised, pre language, text_mention with the user)', () => {
    const { entities } = format('bold link code Alice', undefined, [
      { type: 'bold', offset: 0, length: 4 },
      { type: 'text_link', offset: 5, length: 4, url: 'example.com' },
      { type: 'pre', offset: 10, length: 4, language: 'sql' },
      { type: 'text_mention', offset: 15, length: 5, user: { id: ALICE.id } },
    ])
    expect(entities).toEqual([
      { type: 'bold', offset: 0, length: 4 },
      { type: 'text_link', offset: 5, length: 4, url: 'http://example.com/' },
      { type: 'pre', offset: 10, length: 4, language: 'sql' },
      { type: 'text_mention', offset: 15, length: 5, user: ALICE },
    ])
  })

  it('read offsets given as strings, clip entities to the text, and are ignored under parse_mode', () => {
    expect(format('abc', undefined, [{ type: 'italic', offset: '1', length: 9 }]).entities).toEqual(
      [{ type: 'italic', offset: 1, length: 2 }],
    )
    expect(format('<b>x</b>', 'HTML', [{ type: 'italic', offset: 0, length: 1 }]).entities).toEqual(
      [{ type: 'bold', offset: 0, length: 1 }],
    )
  })

  it("are refused with Telegram's wording when malformed", () => {
    const p = "Bad Request: can't parse MessageEntity: "
    expect(refusal('abc', undefined, [{ type: 'bold', offset: 'x', length: 1 }])).toBe(
      `${p}Field "offset" must be a valid Number`,
    )
    expect(refusal('abc', undefined, [{ type: 'bold', offset: true, length: 1 }])).toBe(
      `${p}Field "offset" must be a Number`,
    )
    expect(refusal('abc', undefined, [{ type: 'bold', offset: 0 }])).toBe(
      `${p}Can't find field "length"`,
    )
    expect(refusal('abc', undefined, [{ type: 'shiny', offset: 0, length: 1 }])).toBe(
      `${p}Unsupported type specified`,
    )
    expect(refusal('abc', undefined, ['bold'])).toBe(`${p}expected an Object`)
    expect(refusal('abc', undefined, [{ type: 'custom_emoji', offset: 0, length: 1 }])).toBe(
      `${p}Can't find field "custom_emoji_id"`,
    )
    expect(
      format('abc', undefined, [
        { type: 'custom_emoji', offset: 0, length: 1, custom_emoji_id: 1234567 },
      ]).entities[0]?.custom_emoji_id,
    ).toBe('1234567')
  })
})

describe('the text as Telegram keeps it', () => {
  it('is trimmed, and empty after parsing is refused', () => {
    expect(format('  <b>x</b> \n', 'HTML')).toEqual({
      text: 'x',
      entities: [{ type: 'bold', offset: 0, length: 1 }],
    })
    expect(refusal('<b></b>', 'HTML')).toBe('Bad Request: text must be non-empty')
    expect(refusal(' \n ')).toBe('Bad Request: text must be non-empty')
    // A caption may end up empty: then there is none.
    expect(formatText(' <b> </b> ', 'HTML', undefined, users, { allowEmpty: true })).toEqual({
      text: '',
      entities: [],
    })
  })

  it('gets the URLs, mentions, commands, hashtags and e-mail addresses Telegram finds', () => {
    const { text, entities } = format(
      'see https://example.com/a, @alice_bot /start #tag or me@example.org <code>https://no.pe</code>',
      'HTML',
    )
    expect(entities.map((e) => [e.type, covered(text, e)])).toEqual([
      ['url', 'https://example.com/a'],
      ['mention', '@alice_bot'],
      ['bot_command', '/start'],
      ['hashtag', '#tag'],
      ['email', 'me@example.org'],
      ['code', 'https://no.pe'],
    ])
  })

  it('knows the parse modes Telegram knows, in any case, and "none"', () => {
    expect(format('<b>x</b>', 'none').text).toBe('<b>x</b>')
    expect(refusal('x', 'BBCode')).toBe('Bad Request: unsupported parse_mode')
  })
})
