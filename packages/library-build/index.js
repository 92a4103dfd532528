export { defineConfig } from 'tsdown'
