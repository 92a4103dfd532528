// Message text as Telegram stores it: markup parsed into entities (HTML, MarkdownV2 and legacy
// Markdown, ported from TDLib's MessageEntity.cpp), or the bot's own `entities` checked as the
// Bot API server checks them; then trimmed, and with URLs, mentions, hashtags, commands and
// e-mail addresses found as Telegram finds them. Offsets and lengths are UTF-16 code units (a
// JS string's own units); error messages give UTF-8 byte offsets, as Telegram's do.
import { badRequest } from './errors.ts'
import { isRecord, jsonField, tdMessage } from './params.ts'
import type { MessageEntity, User } from './types.ts'

export interface FormattedText {
  text: string
  entities: MessageEntity[]
}

/** Looks up the user a text_mention or a tg://user?id= link names (unknown: the entity is dropped). */
export type UserLookup = (id: number) => User | undefined

class ParseError extends Error {}

const MAX_TEXT_BYTES = 1 << 15

const byteOffset = (text: string, index: number) => Buffer.byteLength(text.slice(0, index))

/** td's is_space: the C string's end counts too (an index past the end). */
const isSpace = (c: string | undefined) =>
  c === undefined || c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\0' || c === '\v'

/**
 * Text and entities of a message as Telegram keeps them. `entities` is the parsed `entities`
 * parameter (ignored when `parseMode` is set, as Telegram does).
 */
export function formatText(
  text: string,
  parseMode: string | undefined,
  entities: unknown,
  users: UserLookup,
  options: { allowEmpty?: boolean } = {},
): FormattedText {
  if (Buffer.byteLength(text) > MAX_TEXT_BYTES) throw badRequest('text is too long')
  const mode = (parseMode ?? '').toLowerCase()
  let parsed: FormattedText
  if (text !== '' && mode !== '' && mode !== 'none') {
    if (mode !== 'html' && mode !== 'markdown' && mode !== 'markdownv2') {
      throw badRequest('unsupported parse_mode')
    }
    try {
      parsed =
        mode === 'html'
          ? parseHtml(text, users)
          : mode === 'markdownv2'
            ? parseMarkdownV2(text, users)
            : parseMarkdown(text, users)
    } catch (error) {
      if (error instanceof ParseError) throw badRequest(`can't parse entities: ${error.message}`)
      throw error
    }
  } else {
    parsed = { text, entities: givenEntities(entities, users) }
  }
  return finish(parsed, options.allowEmpty ?? false)
}

// ---- the bot's own entities (Client::get_text_entity) ---------------------------------------

const IGNORED_TYPES = new Set([
  'mention',
  'hashtag',
  'cashtag',
  'bot_command',
  'url',
  'email',
  'phone_number',
  'bank_card_number',
])

function givenEntities(value: unknown, users: UserLookup): MessageEntity[] {
  // Entities that are not a JSON array are ignored, as Telegram does.
  if (!Array.isArray(value)) return []
  const out: MessageEntity[] = []
  for (const item of value) {
    let entity: MessageEntity | undefined
    try {
      entity = givenEntity(item, users)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      throw badRequest(`can't parse MessageEntity: ${message}`)
    }
    if (entity) out.push(entity)
  }
  for (const entity of out) {
    if (entity.offset < 0) {
      throw badRequest(tdMessage(`Receive an entity with incorrect offset ${entity.offset}`))
    }
    if (entity.length < 0) {
      throw badRequest(tdMessage(`Receive an entity with incorrect length ${entity.length}`))
    }
  }
  return out
}

function givenEntity(value: unknown, users: UserLookup): MessageEntity | undefined {
  if (!isRecord(value)) throw new Error('expected an Object')
  const offset = jsonField.requireInteger(value, 'offset')
  const length = jsonField.requireInteger(value, 'length')
  const type = jsonField.requireString(value, 'type')
  if (type === '') throw new Error('Type is not specified')
  const base = { offset, length }
  switch (type) {
    case 'bold':
    case 'italic':
    case 'underline':
    case 'strikethrough':
    case 'spoiler':
    case 'code':
    case 'blockquote':
    case 'expandable_blockquote':
      return { type, ...base }
    case 'pre': {
      const language = jsonField.string(value, 'language') ?? ''
      return language === '' ? { type, ...base } : { type, ...base, language }
    }
    case 'text_link': {
      const url = checkedLink(jsonField.requireString(value, 'url'))
      if (url === undefined) throw new Error('Wrong URL specified')
      return { type, ...base, url }
    }
    case 'text_mention': {
      const user = value.user
      if (user === undefined) throw new Error(`Can't find field "user"`)
      if (!isRecord(user)) throw new Error('Field "user" must be of type Object')
      const id = jsonField.requireInteger(user, 'id')
      const known = users(id)
      return known ? { type, ...base, user: known } : undefined
    }
    case 'custom_emoji': {
      // get_required_long_field: a number or its text.
      const raw = value.custom_emoji_id
      if (raw === undefined || raw === null) throw new Error(`Can't find field "custom_emoji_id"`)
      if (typeof raw !== 'number' && typeof raw !== 'string') {
        throw new Error('Field "custom_emoji_id" must be a Number')
      }
      const id = String(raw)
      if (!/^\d+$/.test(id)) throw new Error('Field "custom_emoji_id" must be a valid Number')
      return { type, ...base, custom_emoji_id: id }
    }
    case 'date_time': {
      const unixTime = jsonField.requireInteger(value, 'unix_time')
      const format = jsonField.string(value, 'date_time_format') ?? ''
      if (!/^(r|R|[tTdDwW]*)$/.test(format)) throw new Error('Invalid date-time format specified')
      return format === ''
        ? { type, ...base, unix_time: unixTime }
        : { type, ...base, unix_time: unixTime, date_time_format: format }
    }
    default:
      if (IGNORED_TYPES.has(type)) return undefined
      throw new Error('Unsupported type specified')
  }
}

// ---- links (LinkManager::get_checked_link, simplified) ---------------------------------------

/** A link as Telegram keeps it (`example.com` → `http://example.com/`); undefined if unusable. */
function checkedLink(raw: string): string | undefined {
  const link = raw.trim()
  if (link === '') return undefined
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(link) ? link : `http://${link}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return undefined
  }
  if (url.protocol === 'tg:' || url.protocol === 'ton:') return link
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (!url.hostname.includes('.') && url.hostname !== 'localhost') return undefined
  return url.href
}

/** `tg://user?id=123`: the user the link mentions. */
function linkUserId(link: string): number | undefined {
  const match = /^tg:\/\/user\?id=(\d+)$/i.exec(link.trim())
  return match?.[1] === undefined ? undefined : Number(match[1])
}

/** The entity a link makes: a text_mention for tg://user?id=, a text_link, or none. */
function linkEntity(
  link: string,
  offset: number,
  length: number,
  users: UserLookup,
): MessageEntity | undefined {
  const userId = linkUserId(link)
  if (userId !== undefined) {
    const user = users(userId)
    return user ? { type: 'text_mention', offset, length, user } : undefined
  }
  const url = checkedLink(link)
  return url === undefined ? undefined : { type: 'text_link', offset, length, url }
}

// ---- HTML (parse_html) ------------------------------------------------------------------------

const HTML_TAGS = new Set([
  'a',
  'b',
  'strong',
  'i',
  'em',
  's',
  'strike',
  'del',
  'u',
  'ins',
  'tg-spoiler',
  'tg-emoji',
  'tg-time',
  'span',
  'pre',
  'code',
  'blockquote',
])

/** decode_html_entity: &lt; &gt; &amp; &quot; and numeric references; else none. */
function htmlEntityAt(text: string, i: number): { code: number; end: number } | undefined {
  const named = /^&(lt|gt|amp|quot);/.exec(text.slice(i, i + 6))
  if (named?.[1]) {
    const code = { lt: 60, gt: 62, amp: 38, quot: 34 }[named[1] as 'lt' | 'gt' | 'amp' | 'quot']
    return { code, end: i + named[0].length }
  }
  const numeric = /^&#(x[0-9a-fA-F]{1,8}|\d{1,10});?/.exec(text.slice(i, i + 13))
  if (numeric?.[1]) {
    const v = numeric[1]
    const code = v.startsWith('x') ? Number.parseInt(v.slice(1), 16) : Number(v)
    if (code === 0 || code > 0x10ffff) return undefined
    return { code, end: i + numeric[0].length }
  }
  return undefined
}

function parseHtml(text: string, users: UserLookup): FormattedText {
  let out = ''
  const entities: MessageEntity[] = []
  const nested: Array<{ tag: string; argument: string; date: number; offset: number }> = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '&') {
      const decoded = htmlEntityAt(text, i)
      if (decoded) {
        out += String.fromCodePoint(decoded.code)
        i = decoded.end
        continue
      }
    }
    if (c !== '<') {
      out += c
      i++
      continue
    }
    const begin = i++
    if (text[i] !== '/') {
      while (!isSpace(text[i]) && text[i] !== '>') i++
      if (i >= text.length) {
        throw new ParseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`)
      }
      const tag = text.slice(begin + 1, i).toLowerCase()
      if (!HTML_TAGS.has(tag)) {
        throw new ParseError(
          `Unsupported start tag "${tag}" at byte offset ${byteOffset(text, begin)}`,
        )
      }
      let argument = ''
      let date = 0
      while (text[i] !== '>') {
        while (i < text.length && isSpace(text[i])) i++
        if (text[i] === '>') break
        const nameBegin = i
        while (
          !isSpace(text[i]) &&
          !['=', '>', '/', '"', "'"].includes(text[i] ?? '') &&
          i < text.length
        )
          i++
        const name = text.slice(nameBegin, i)
        if (name === '') {
          throw new ParseError(
            `Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(text, begin)}`,
          )
        }
        while (i < text.length && isSpace(text[i])) i++
        if (text[i] !== '=') {
          if (i >= text.length) {
            throw new ParseError(
              `Unclosed start tag "${tag}" at byte offset ${byteOffset(text, begin)}`,
            )
          }
          if (tag === 'blockquote' && name === 'expandable') argument = '1'
          continue
        }
        i++
        while (i < text.length && isSpace(text[i])) i++
        if (i >= text.length) {
          throw new ParseError(
            `Unclosed start tag "${tag}" at byte offset ${byteOffset(text, begin)}`,
          )
        }
        let value = ''
        const quote = text[i]
        if (quote !== '"' && quote !== "'") {
          const tokenBegin = i
          while (/[A-Za-z0-9.-]/.test(text[i] ?? '')) i++
          value = text.slice(tokenBegin, i).toLowerCase()
          if (!isSpace(text[i]) && text[i] !== '>') {
            throw new ParseError(
              `Unexpected end of name token at byte offset ${byteOffset(text, tokenBegin)}`,
            )
          }
        } else {
          i++
          while (i < text.length && text[i] !== quote) {
            const decoded = text[i] === '&' ? htmlEntityAt(text, i) : undefined
            if (decoded) {
              value += String.fromCodePoint(decoded.code)
              i = decoded.end
            } else {
              value += text[i]
              i++
            }
          }
          if (text[i] === quote) i++
        }
        if (i >= text.length) {
          throw new ParseError(`Unclosed start tag at byte offset ${byteOffset(text, begin)}`)
        }
        if (tag === 'a' && name === 'href') argument = value
        else if (tag === 'code' && name === 'class' && value.startsWith('language-')) {
          argument = value.slice(9)
        } else if (tag === 'span' && name === 'class' && value.startsWith('tg-')) {
          argument = value.slice(3)
        } else if (tag === 'tg-emoji' && name === 'emoji-id') argument = value
        else if (tag === 'blockquote' && name === 'expandable') argument = '1'
        else if (tag === 'tg-time' && name === 'unix') date = Number.parseInt(value, 10) || 0
        else if (tag === 'tg-time' && name === 'format') argument = value
      }
      if (tag === 'span' && argument !== 'spoiler') {
        throw new ParseError(
          `Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(text, begin)}`,
        )
      }
      nested.push({ tag, argument, date, offset: out.length })
      i++ // past '>'
      continue
    }
    // an end tag
    const open = nested.at(-1)
    if (!open) throw new ParseError(`Unexpected end tag at byte offset ${byteOffset(text, begin)}`)
    while (!isSpace(text[i]) && text[i] !== '>') i++
    const endTag = text.slice(begin + 2, i).toLowerCase()
    while (isSpace(text[i]) && i < text.length) i++
    if (text[i] !== '>') {
      throw new ParseError(`Unclosed end tag at byte offset ${byteOffset(text, begin)}`)
    }
    i++
    if (endTag !== '' && endTag !== open.tag) {
      throw new ParseError(
        `Unmatched end tag at byte offset ${byteOffset(text, begin)}, expected "</${open.tag}>", found "</${endTag}>"`,
      )
    }
    nested.pop()
    const offset = open.offset
    const length = out.length - offset
    if (length <= 0) continue
    const entity = htmlEntity(open, offset, length, out, entities, users)
    if (entity) entities.push(entity)
  }
  const open = nested.at(-1)
  if (open) {
    throw new ParseError(`Can't find end tag corresponding to start tag "${open.tag}"`)
  }
  for (const entity of entities) if (entity.type === 'code') delete entity.language
  return { text: out, entities }
}

function htmlEntity(
  open: { tag: string; argument: string; date: number },
  offset: number,
  length: number,
  out: string,
  entities: MessageEntity[],
  users: UserLookup,
): MessageEntity | undefined {
  const base = { offset, length }
  const last = entities.at(-1)
  const sameSpan = last !== undefined && last.offset === offset && last.length === length
  switch (open.tag) {
    case 'i':
    case 'em':
      return { type: 'italic', ...base }
    case 'b':
    case 'strong':
      return { type: 'bold', ...base }
    case 's':
    case 'strike':
    case 'del':
      return { type: 'strikethrough', ...base }
    case 'u':
    case 'ins':
      return { type: 'underline', ...base }
    case 'tg-spoiler':
    case 'span':
      return { type: 'spoiler', ...base }
    case 'tg-emoji':
      if (!/^\d+$/.test(open.argument) || /^0+$/.test(open.argument)) {
        throw new ParseError('Invalid custom emoji identifier specified')
      }
      return { type: 'custom_emoji', ...base, custom_emoji_id: open.argument }
    case 'tg-time':
      if (open.date <= 0) return undefined
      return open.argument === ''
        ? { type: 'date_time', ...base, unix_time: open.date }
        : { type: 'date_time', ...base, unix_time: open.date, date_time_format: open.argument }
    case 'a':
      return linkEntity(open.argument || out.slice(offset), offset, length, users)
    case 'pre':
      // <pre><code class="language-x">…</code></pre>: one pre entity with its language.
      if (sameSpan && last.type === 'code' && last.language) {
        last.type = 'pre'
        return undefined
      }
      return { type: 'pre', ...base }
    case 'code':
      if (sameSpan && last.type === 'pre' && open.argument !== '') {
        last.language = open.argument
        return undefined
      }
      // A code entity keeps its language only until an enclosing <pre> claims it.
      return open.argument === ''
        ? { type: 'code', ...base }
        : { type: 'code', ...base, language: open.argument }
    default:
      return open.argument === ''
        ? { type: 'blockquote', ...base }
        : { type: 'expandable_blockquote', ...base }
  }
}

// ---- MarkdownV2 (parse_markdown_v2) --------------------------------------------------------------

const RESERVED_V2 = '_*[]()~`>#+-=|{}.!\n'

const reserved = (c: string) =>
  new ParseError(`Character '${c}' is reserved and must be escaped with the preceding '\\'`)

type V2Type =
  | 'bold'
  | 'italic'
  | 'underline'
  | 'strikethrough'
  | 'spoiler'
  | 'code'
  | 'pre'
  | 'text_link'
  | 'custom_emoji'
  | 'blockquote'

const V2_NAMES: Record<V2Type, string> = {
  bold: 'Bold',
  italic: 'Italic',
  underline: 'Underline',
  strikethrough: 'Strikethrough',
  spoiler: 'Spoiler',
  code: 'Code',
  pre: 'Pre',
  text_link: 'TextUrl',
  custom_emoji: 'CustomEmoji',
  blockquote: 'BlockQuote',
}

const isEscapable = (c: string | undefined) =>
  c !== undefined && c.charCodeAt(0) > 0 && c.charCodeAt(0) <= 126

function parseMarkdownV2(text: string, users: UserLookup): FormattedText {
  let out = ''
  const entities: MessageEntity[] = []
  const nested: Array<{
    type: V2Type
    language: string
    offset: number
    byte: number
  }> = []
  let haveBlockquote = false
  let canStartBlockquote = true
  const endOf = (n: { type: V2Type; byte: number }) =>
    new ParseError(`Can't find end of ${V2_NAMES[n.type]} entity at byte offset ${n.byte}`)
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? ''
    if (c === '\\' && isEscapable(text[i + 1])) {
      i++
      out += text[i]
      if (text[i] !== '\r') canStartBlockquote = text[i] === '\n'
      continue
    }
    const top = nested.at(-1)
    const reservedHere = top?.type === 'code' || top?.type === 'pre' ? '`' : RESERVED_V2
    if (!reservedHere.includes(c)) {
      out += c
      if (c !== '\r') canStartBlockquote = false
      continue
    }
    const isEnd = (() => {
      if (!top) return false
      if (haveBlockquote && c === '\n' && (i + 1 === text.length || text[i + 1] !== '>')) {
        return true
      }
      switch (top.type) {
        case 'bold':
          return c === '*'
        case 'italic':
          return c === '_' && text[i + 1] !== '_'
        case 'code':
          return c === '`'
        case 'pre':
          return c === '`' && text[i + 1] === '`' && text[i + 2] === '`'
        case 'text_link':
        case 'custom_emoji':
          return c === ']'
        case 'underline':
          return c === '_' && text[i + 1] === '_'
        case 'strikethrough':
          return c === '~'
        case 'spoiler':
          return c === '|' && text[i + 1] === '|'
        default:
          return false
      }
    })()
    if (!isEnd) {
      const byte = byteOffset(text, i)
      let type: V2Type | undefined
      let language = ''
      switch (c) {
        case '_':
          if (text[i + 1] === '_') {
            type = 'underline'
            i++
          } else type = 'italic'
          break
        case '*':
          type = 'bold'
          break
        case '~':
          type = 'strikethrough'
          break
        case '|':
          if (text[i + 1] !== '|') throw reserved(c)
          i++
          type = 'spoiler'
          break
        case '[':
          type = 'text_link'
          break
        case '`':
          if (text[i + 1] === '`' && text[i + 2] === '`') {
            i += 3
            type = 'pre'
            let languageEnd = i
            while (!isSpace(text[languageEnd]) && text[languageEnd] !== '`') languageEnd++
            if (i !== languageEnd && languageEnd < text.length && text[languageEnd] !== '`') {
              language = text.slice(i, languageEnd)
              i = languageEnd
            }
            if (text[i] === '\n' || text[i] === '\r') {
              const next = text[i + 1]
              if ((next === '\n' || next === '\r') && text[i] !== next) i += 2
              else i++
            }
            i--
          } else type = 'code'
          break
        case '!':
          if (text[i + 1] !== '[') throw reserved(c)
          i++
          type = 'custom_emoji'
          break
        case '\n':
          out += '\n'
          canStartBlockquote = true
          break
        case '>':
          if (!canStartBlockquote) throw reserved(c)
          if (!haveBlockquote) {
            type = 'blockquote'
            haveBlockquote = true
          }
          break
        default:
          throw reserved(c)
      }
      if (type) nested.push({ type, language, offset: out.length, byte })
      continue
    }
    // the end of an entity
    const open = top as NonNullable<typeof top>
    if (c === '\n' && open.type !== 'blockquote') throw endOf(open)
    let skip = out.length === open.offset
    let entity: MessageEntity | undefined
    const base = { offset: open.offset, length: out.length - open.offset }
    switch (open.type) {
      case 'underline':
      case 'spoiler':
        i++
        entity = { type: open.type, ...base }
        break
      case 'pre':
        i += 2
        entity =
          open.language === ''
            ? { type: 'pre', ...base }
            : { type: 'pre', ...base, language: open.language }
        break
      case 'text_link': {
        let url = ''
        if (text[i + 1] !== '(') {
          url = out.slice(open.offset)
        } else {
          i += 2
          const urlBegin = i
          while (i < text.length && text[i] !== ')') {
            if (text[i] === '\\' && isEscapable(text[i + 1])) {
              url += text[i + 1]
              i += 2
              continue
            }
            url += text[i++]
          }
          if (text[i] !== ')') {
            throw new ParseError(
              `Can't find end of a URL at byte offset ${byteOffset(text, urlBegin)}`,
            )
          }
        }
        entity = linkEntity(url, base.offset, base.length, users)
        if (!entity) skip = true
        break
      }
      case 'custom_emoji': {
        if (text[i + 1] !== '(') {
          throw new ParseError('The entity must contain a tg://emoji or tg://time URL')
        }
        i += 2
        let url = ''
        const urlBegin = i
        while (i < text.length && text[i] !== ')') {
          if (text[i] === '\\' && isEscapable(text[i + 1])) {
            url += text[i + 1]
            i += 2
            continue
          }
          url += text[i++]
        }
        if (text[i] !== ')') {
          throw new ParseError(
            `Can't find end of a URL at byte offset ${byteOffset(text, urlBegin)}`,
          )
        }
        const id = /^tg:\/\/emoji\?id=(\d+)$/i.exec(url)?.[1]
        if (id === undefined) throw new ParseError('Invalid tg://emoji or tg://time URL specified')
        entity = { type: 'custom_emoji', ...base, custom_emoji_id: id }
        break
      }
      case 'blockquote':
        haveBlockquote = false
        out += text[i]
        canStartBlockquote = true
        skip = false
        entity = { type: 'blockquote', offset: open.offset, length: out.length - open.offset }
        break
      default:
        entity = { type: open.type, ...base }
    }
    if (!skip && entity) entities.push(entity)
    nested.pop()
  }
  if (haveBlockquote) {
    const open = nested.at(-1)
    if (open?.type === 'blockquote') {
      if (out.length > open.offset) {
        entities.push({ type: 'blockquote', offset: open.offset, length: out.length - open.offset })
      }
      nested.pop()
    }
  }
  const open = nested.at(-1)
  if (open) throw endOf(open)
  return { text: out, entities }
}

// ---- legacy Markdown (parse_markdown) ------------------------------------------------------------

function parseMarkdown(text: string, users: UserLookup): FormattedText {
  let out = ''
  const entities: MessageEntity[] = []
  const size = text.length
  for (let i = 0; i < size; i++) {
    const c = text[i] ?? ''
    if (c === '\\' && ['_', '*', '`', '['].includes(text[i + 1] ?? '')) {
      i++
      out += text[i]
      continue
    }
    if (c !== '_' && c !== '*' && c !== '`' && c !== '[') {
      out += c
      continue
    }
    const begin = i
    const endCharacter = c === '[' ? ']' : c
    let isPre = false
    let language = ''
    i++
    if (c === '`' && text[i] === '`' && text[i + 1] === '`') {
      i += 2
      isPre = true
      let languageEnd = i
      while (!isSpace(text[languageEnd]) && text[languageEnd] !== '`') languageEnd++
      if (i !== languageEnd && languageEnd < size && text[languageEnd] !== '`') {
        language = text.slice(i, languageEnd)
        i = languageEnd
      }
      if (text[i] === '\n' || text[i] === '\r') {
        const next = text[i + 1]
        if ((next === '\n' || next === '\r') && text[i] !== next) i += 2
        else i++
      }
    }
    const offset = out.length
    while (
      i < size &&
      (text[i] !== endCharacter || (isPre && !(text[i + 1] === '`' && text[i + 2] === '`')))
    ) {
      out += text[i++]
    }
    if (i === size) {
      throw new ParseError(
        `Can't find end of the entity starting at byte offset ${byteOffset(text, begin)}`,
      )
    }
    const length = out.length - offset
    if (length > 0) {
      const base = { offset, length }
      if (c === '_') entities.push({ type: 'italic', ...base })
      else if (c === '*') entities.push({ type: 'bold', ...base })
      else if (c === '[') {
        let url = ''
        if (text[i + 1] !== '(') url = text.slice(begin + 1, i)
        else {
          i += 2
          while (i < size && text[i] !== ')') url += text[i++]
        }
        const entity = linkEntity(url, offset, length, users)
        if (entity) entities.push(entity)
      } else if (isPre) {
        entities.push(
          language === '' ? { type: 'pre', ...base } : { type: 'pre', ...base, language },
        )
      } else entities.push({ type: 'code', ...base })
    }
    if (isPre) i += 2
  }
  return { text: out, entities }
}

// ---- fix_formatted_text: clip, trim, find, sort ------------------------------------------------------

/** Entities inside which Telegram finds nothing (no URL inside code, no mention inside a link). */
const OPAQUE = new Set(['code', 'pre', 'text_link', 'text_mention', 'custom_emoji', 'date_time'])

const FOUND: Array<{ type: string; pattern: RegExp }> = [
  { type: 'email', pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g },
  { type: 'url', pattern: /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'"]/gi },
  { type: 'mention', pattern: /(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b/g },
  { type: 'hashtag', pattern: /(?<![\w#])#[\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*/gu },
  {
    type: 'bot_command',
    pattern: /(?<![\w/])\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])/g,
  },
]

function found(text: string, taken: MessageEntity[]): MessageEntity[] {
  const out: MessageEntity[] = []
  const blocked = taken.filter((e) => OPAQUE.has(e.type))
  const overlaps = (offset: number, length: number, list: MessageEntity[]) =>
    list.some((e) => offset < e.offset + e.length && e.offset < offset + length)
  for (const { type, pattern } of FOUND) {
    for (const match of text.matchAll(pattern)) {
      const offset = match.index ?? 0
      const length = match[0].length
      if (overlaps(offset, length, blocked) || overlaps(offset, length, out)) continue
      out.push({ type, offset, length })
    }
  }
  return out
}

/** The entities Telegram finds in a user's plain text (commands, URLs, mentions, …). */
export function foundEntities(text: string): MessageEntity[] {
  return found(text, []).sort(compareEntities)
}

const TYPE_ORDER = [
  'blockquote',
  'expandable_blockquote',
  'spoiler',
  'strikethrough',
  'underline',
  'italic',
  'bold',
]

function compareEntities(a: MessageEntity, b: MessageEntity): number {
  if (a.offset !== b.offset) return a.offset - b.offset
  if (a.length !== b.length) return b.length - a.length
  return TYPE_ORDER.indexOf(a.type) - TYPE_ORDER.indexOf(b.type)
}

const isTrimmed = (c: string) => c === ' ' || c === '\n' || c === '\t' || c === '\r'

function finish({ text, entities }: FormattedText, allowEmpty: boolean): FormattedText {
  // Entities past the end are clipped, empty ones dropped.
  let list = entities
    .map((e) => ({ ...e, length: Math.min(e.offset + e.length, text.length) - e.offset }))
    .filter((e) => e.length > 0 && e.offset < text.length)
  // rtrim, then ltrim up to the first entity.
  let end = text.length
  while (end > 0 && isTrimmed(text[end - 1] ?? '')) end--
  if (end === 0) {
    // A caption may come out empty (no caption); a message text may not.
    if (allowEmpty) return { text: '', entities: [] }
    throw badRequest('text must be non-empty')
  }
  list = list
    .filter((e) => e.offset < end)
    .map((e) => ({ ...e, length: Math.min(e.offset + e.length, end) - e.offset }))
  const firstEntity = list.reduce((min, e) => Math.min(min, e.offset), end)
  let start = 0
  while (start < firstEntity && (text[start] === ' ' || text[start] === '\n')) start++
  const trimmed = text.slice(start, end)
  list = list.map((e) => ({ ...e, offset: e.offset - start }))
  const all = [...list, ...found(trimmed, list)].sort(compareEntities)
  return { text: trimmed, entities: all }
}
