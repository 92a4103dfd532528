/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The e-Stars server, when it is not the origin serving this app. */
  readonly VITE_ESTARS_URL?: string
  /** The project, when the Mini App URL carries no `?project=`. */
  readonly VITE_ESTARS_PROJECT_ID?: string
}
