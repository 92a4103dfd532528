import { InvalidInput } from '../errors.ts'

/** The project's own settings, checked in one place for every door (console, API, CLI, first start). */
export interface ProjectRules {
  name?: string | undefined
  timeZone?: string | undefined
  lowBalanceThreshold?: number | undefined
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// C0 and C1 control characters: never meaningful in a name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
export const MAX_PROJECT_NAME = 100

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name })
    return true
  } catch {
    return false
  }
}

/** Throws InvalidInput naming the first setting that is not acceptable. */
export function checkProjectRules(rules: ProjectRules): void {
  if (rules.name !== undefined) checkName('name', rules.name, MAX_PROJECT_NAME)
  if (rules.timeZone !== undefined && !isTimeZone(rules.timeZone))
    throw new InvalidInput(
      'timeZone',
      `unknown time zone "${rules.timeZone}" (use an IANA name such as Europe/Berlin)`,
    )
  if (
    rules.lowBalanceThreshold !== undefined &&
    (!Number.isSafeInteger(rules.lowBalanceThreshold) || rules.lowBalanceThreshold < 0)
  )
    throw new InvalidInput('lowBalanceThreshold', 'must be a whole number ≥ 0')
}

/** A display name: not blank, at most `max` characters, no control characters. */
export function checkName(field: string, value: string, max: number): void {
  const name = value.trim()
  if (name === '') throw new InvalidInput(field, 'must not be empty')
  if (name.length > max) throw new InvalidInput(field, `must be at most ${max} characters`)
  if (CONTROL.test(name)) throw new InvalidInput(field, 'must not contain control characters')
}

/** A project id from outside (the CLI, a URL): a UUID, or InvalidInput before it reaches SQL. */
export function checkProjectId(projectId: string, field = 'projectId'): void {
  checkUuid(projectId, field)
}

export function checkUuid(value: string, field: string): void {
  if (!UUID.test(value)) throw new InvalidInput(field, 'must be an id (a UUID)')
}
