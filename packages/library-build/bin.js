#!/usr/bin/env node
// tsdown's CLI, run in the calling package's directory (its tsdown.config.ts).
import 'tsdown/run'
