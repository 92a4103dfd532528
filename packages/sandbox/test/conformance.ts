import { readFileSync } from 'node:fs'
import { z } from 'zod'

const fieldSpec = z.object({
  types: z.array(z.string()),
  required: z.boolean(),
  const: z.string().optional(),
})
const subsetSpec = z.object({
  version: z.string(),
  methods: z.record(
    z.string(),
    z.object({ returns: z.array(z.string()), fields: z.record(z.string(), fieldSpec) }),
  ),
  types: z.record(z.string(), z.record(z.string(), fieldSpec)),
  unions: z.record(z.string(), z.array(z.string())),
})
export type SubsetSpec = z.infer<typeof subsetSpec>

export const spec: SubsetSpec = subsetSpec.parse(
  JSON.parse(readFileSync(new URL('../spec/stars-subset.json', import.meta.url), 'utf8')),
)

const PRIMITIVES = new Set(['Integer', 'String', 'Boolean', 'Float', 'True'])
/** Types a bot sends but the sandbox never emits (a file upload is a multipart part). */
const INPUT_ONLY = new Set(['InputFile'])

const baseName = (type: string) => type.replace(/^(Array of )+/, '')

/** Every type name the subset refers to (method parameters and results, fields, union members). */
export function referencedTypes(s: SubsetSpec = spec): Map<string, string> {
  const refs = new Map<string, string>()
  const add = (type: string, where: string) => {
    const name = baseName(type)
    if (!PRIMITIVES.has(name) && !refs.has(name)) refs.set(name, where)
  }
  for (const [method, m] of Object.entries(s.methods)) {
    for (const t of m.returns) add(t, `${method}()`)
    for (const [field, f] of Object.entries(m.fields)) {
      for (const t of f.types) add(t, `${method}.${field}`)
    }
  }
  for (const [type, fields] of Object.entries(s.types)) {
    for (const [field, f] of Object.entries(fields)) {
      for (const t of f.types) add(t, `${type}.${field}`)
    }
  }
  for (const [union, members] of Object.entries(s.unions)) {
    for (const t of members) add(t, `${union} member`)
  }
  return refs
}

/** Referenced types the subset defines neither as an object type nor as a union. */
export function undefinedTypes(s: SubsetSpec = spec): string[] {
  return [...referencedTypes(s)]
    .filter(([name]) => !(name in s.types) && !(name in s.unions))
    .map(([name, where]) => `${name} (referenced by ${where})`)
}

/**
 * Checks `value` against spec type `typeName`: required fields present, no field the spec does
 * not know, `always "x"` fields equal to x, primitives right, nested types checked in turn. A
 * type the subset does not define is an error, never a pass.
 */
export function shapeErrors(typeName: string, value: unknown, path: string): string[] {
  if (typeName === 'Integer') return Number.isSafeInteger(value) ? [] : [`${path}: not an Integer`]
  if (typeName === 'Float') return typeof value === 'number' ? [] : [`${path}: not a Float`]
  if (typeName === 'String') return typeof value === 'string' ? [] : [`${path}: not a String`]
  if (typeName === 'Boolean') return typeof value === 'boolean' ? [] : [`${path}: not a Boolean`]
  if (typeName === 'True') return value === true ? [] : [`${path}: not True`]
  if (typeName.startsWith('Array of ')) {
    if (!Array.isArray(value)) return [`${path}: not an array`]
    return value.flatMap((item, i) => shapeErrors(typeName.slice(9), item, `${path}[${i}]`))
  }
  if (INPUT_ONLY.has(typeName)) return [`${path}: ${typeName} is never part of an answer`]
  const members = spec.unions[typeName]
  if (members) return oneOfErrors(members, value, path)
  const fields = spec.types[typeName]
  if (!fields) return [`${path}: type ${typeName} is not defined in the subset`]
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`${path}: not an object (${typeName})`]
  }
  const record = value as Record<string, unknown>
  const errors: string[] = []
  for (const [field, f] of Object.entries(fields)) {
    if (f.required && record[field] === undefined) {
      errors.push(`${path}.${field}: required, missing (${typeName})`)
    }
  }
  for (const [field, fieldValue] of Object.entries(record)) {
    const f = fields[field]
    if (!f) {
      errors.push(`${path}.${field}: not a field of ${typeName}`)
      continue
    }
    if (f.const !== undefined && fieldValue !== f.const) {
      errors.push(`${path}.${field}: must be "${f.const}" (${typeName})`)
      continue
    }
    errors.push(...oneOfErrors(f.types, fieldValue, `${path}.${field}`))
  }
  return errors
}

/** `value` fits one of `types`: no errors when one fits, else the closest attempt's errors. */
function oneOfErrors(types: string[], value: unknown, path: string): string[] {
  const attempts = types.map((t) => shapeErrors(t, value, path))
  if (attempts.some((e) => e.length === 0)) return []
  return attempts.reduce((best, e) => (e.length < best.length ? e : best), attempts[0] ?? [])
}

/** A method's result against the types the spec says it returns. */
export function resultErrors(method: string, result: unknown): string[] {
  const m = spec.methods[method]
  if (!m) return [`${method}: not a method of the subset`]
  return oneOfErrors(m.returns, result, `${method}()`)
}
