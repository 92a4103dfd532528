export { defineConfig, type UserConfig } from 'tsdown'
