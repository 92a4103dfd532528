// Builds spec/stars-subset.json (and packages/telegram's copy) from the full machine-readable
// Bot API 10.1 spec plus the 10.2/10.3 changes listed in TELEGRAM.md:
//
//   npx tsx spec/build-subset.ts /work/shared/botapi/api-10.1.json && npx biome format --write spec ../telegram/spec
//
// The subset holds every method the sandbox implements and every type those methods (their
// parameters and results) and Update reach, transitively, union members included. A field whose
// description reads `always "x"` carries `const: "x"`, so a union member can be told apart.
import { readFileSync, writeFileSync } from 'node:fs'

interface FullField {
  name: string
  types: string[]
  required: boolean
  description?: string
}
interface FullEntry {
  name: string
  fields?: FullField[]
  returns?: string[]
  subtypes?: string[]
}
interface FullSpec {
  version: string
  methods: Record<string, FullEntry>
  types: Record<string, FullEntry>
}

interface FieldSpec {
  types: string[]
  required: boolean
  const?: string
}

const METHODS = [
  'getUpdates',
  'setWebhook',
  'deleteWebhook',
  'getWebhookInfo',
  'getMe',
  'sendMessage',
  'editMessageText',
  'answerCallbackQuery',
  'sendPhoto',
  'sendPaidMedia',
  'sendInvoice',
  'createInvoiceLink',
  'answerPreCheckoutQuery',
  'refundStarPayment',
  'getStarTransactions',
  'editUserStarSubscription',
  'getMyStarBalance',
]

const PRIMITIVES = new Set(['Integer', 'String', 'Boolean', 'Float', 'True'])

/** Bot API 10.2 and 10.3, as TELEGRAM.md lists them (the payment types are unchanged). */
const ADDED_TYPES: Record<string, Record<string, FieldSpec>> = {
  BotSubscriptionUpdated: {
    user: { types: ['User'], required: true },
    invoice_payload: { types: ['String'], required: true },
    state: { types: ['String'], required: true },
  },
}
const ADDED_FIELDS: Record<string, Record<string, FieldSpec>> = {
  Update: { subscription: { types: ['BotSubscriptionUpdated'], required: false } },
}

const baseName = (type: string) => type.replace(/^(Array of )+/, '')

function fieldsOf(entry: FullEntry): Record<string, FieldSpec> {
  const out: Record<string, FieldSpec> = {}
  for (const f of entry.fields ?? []) {
    const spec: FieldSpec = { types: f.types, required: f.required }
    const always = /always “([^”]+)”|always "([^"]+)"/.exec(f.description ?? '')
    const value = always?.[1] ?? always?.[2]
    if (value !== undefined && f.types.length === 1 && f.types[0] === 'String') spec.const = value
    out[f.name] = spec
  }
  return out
}

function build(full: FullSpec) {
  const methods: Record<string, { returns: string[]; fields: Record<string, FieldSpec> }> = {}
  const types: Record<string, Record<string, FieldSpec>> = {}
  const unions: Record<string, string[]> = {}
  const queue: string[] = ['Update']
  for (const name of METHODS) {
    const entry = full.methods[name]
    if (!entry) throw new Error(`${name} is not in ${full.version}`)
    const fields = fieldsOf(entry)
    methods[name] = { returns: entry.returns ?? [], fields }
    queue.push(...(entry.returns ?? []), ...Object.values(fields).flatMap((f) => f.types))
  }
  const seen = new Set<string>()
  while (queue.length > 0) {
    const name = baseName(queue.pop() ?? '')
    if (PRIMITIVES.has(name) || seen.has(name)) continue
    seen.add(name)
    const entry = full.types[name]
    const fields = entry ? fieldsOf(entry) : ADDED_TYPES[name]
    if (!fields) throw new Error(`type ${name} is referenced but defined nowhere`)
    if (entry?.subtypes) {
      unions[name] = entry.subtypes
      queue.push(...entry.subtypes)
      continue
    }
    Object.assign(fields, ADDED_FIELDS[name])
    types[name] = fields
    queue.push(...Object.values(fields).flatMap((f) => f.types))
  }
  const sorted = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)))
  return {
    version: 'Bot API 10.3',
    source: `${full.version} (PaulSonOfLars/telegram-bot-api-spec, MIT) + Bot API 10.2/10.3 as listed in TELEGRAM.md`,
    notes: [
      '10.2: Update.subscription (BotSubscriptionUpdated { user, invoice_payload, state }).',
      'Left out: the 10.2/10.3 ephemeral messages (Message.receiver_user, ephemeral_message_id, sendMessage.ephemeral_message_parameters) and the 10.2/10.3 changes to Communities and rich messages: TELEGRAM.md does not give their shapes and the sandbox emits none of them (the 10.1 rich-message types are here).',
      'InputFile is an upload (multipart part), not a JSON object; CallbackGame has no fields.',
    ],
    methods,
    types: sorted(types),
    unions: sorted(unions),
  }
}

const source = process.argv[2] ?? '/work/shared/botapi/api-10.1.json'
const subset = build(JSON.parse(readFileSync(source, 'utf8')) as FullSpec)
const text = `${JSON.stringify(subset, null, 2)}\n`
for (const target of [
  new URL('./stars-subset.json', import.meta.url),
  new URL('../../telegram/spec/stars-subset.json', import.meta.url),
]) {
  writeFileSync(target, text)
}
console.log(
  `${subset.version}: ${Object.keys(subset.methods).length} methods, ${Object.keys(subset.types).length} types, ${Object.keys(subset.unions).length} unions`,
)
