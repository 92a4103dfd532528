// Child process for outage-last-resort.test.ts: installs the last resort, then fails the way
// postgres.js 3.4.9 did during an outage (a TypeError thrown from a setImmediate) or leaves a
// rejection unhandled. It must log one line and exit 1 before "still alive" is printed.
import pino from 'pino'
import { installLastResort } from '../src/last-resort.ts'

installLastResort(pino())
const mode = process.argv[2]
if (mode === 'throw')
  setImmediate(() => {
    throw new TypeError("Cannot read properties of null (reading 'write')")
  })
if (mode === 'reject') void Promise.reject(new Error('nobody handled this rejection'))
setTimeout(() => {
  process.stdout.write('still alive\n')
  process.exit(0)
}, 3000)
