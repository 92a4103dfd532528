// Every test of this package checks everything the sandbox emitted while it ran — each Bot API
// result and each webhook update — against spec/stars-subset.json.
import { afterEach, beforeEach, expect } from 'vitest'
import { observeEmitted } from '../src/emitted.ts'
import { resultErrors, shapeErrors } from './conformance.ts'

let errors: string[] = []
let count = 0

observeEmitted((emitted) => {
  count++
  const found =
    emitted.kind === 'result'
      ? resultErrors(emitted.method, emitted.value)
      : shapeErrors('Update', emitted.value, 'webhook update')
  errors.push(...found)
})

beforeEach(() => {
  errors = []
  count = 0
})

afterEach(() => {
  expect(errors, `of ${count} objects the sandbox emitted, some do not match the spec`).toEqual([])
})
