// Every test of this package checks everything the sandbox emitted while it ran — each Bot API
// result and each webhook update — against spec/stars-subset.json. What a beforeAll emitted is
// checked with the first test after it.
import { afterEach, expect } from 'vitest'
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

afterEach(() => {
  const found = errors
  const checked = count
  errors = []
  count = 0
  expect(found, `of ${checked} objects the sandbox emitted, some do not match the spec`).toEqual([])
})
