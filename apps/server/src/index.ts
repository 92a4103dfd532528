export { createApp } from './app.ts'
export { type DemoSandbox, sandboxWanted, startDemoSandbox } from './demo.ts'
export { type Env, parseEnv } from './env.ts'
export { type RunningServer, startServer } from './server.ts'
