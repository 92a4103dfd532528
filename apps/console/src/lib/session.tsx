import { createAsync, query, revalidate } from '@solidjs/router'
import {
  type Accessor,
  createContext,
  createEffect,
  createMemo,
  createSignal,
  type ParentProps,
  useContext,
} from 'solid-js'
import { api, type RouterOutputs, setCsrfToken } from './api.ts'

export type SessionState = NonNullable<RouterOutputs['operator']['auth']['session']>
export type ProjectRef = SessionState['projects'][number]

export const getSession = query(async () => {
  const session = await api.operator.auth.session.query()
  setCsrfToken(session?.csrfToken ?? null)
  return session
}, 'session')

interface SessionApi {
  /** undefined while loading, null when logged out. */
  session: Accessor<SessionState | null | undefined>
  project: Accessor<ProjectRef | undefined>
  projectId: () => string
  /** The project's time zone: every date in the console is shown in it. */
  timeZone: () => string
  isOwner: () => boolean
  selectProject(id: string): void
  logout(): Promise<void>
  refresh(): Promise<void>
}

const SessionContext = createContext<SessionApi>()
const STORED_PROJECT = 'estars.project'

export function SessionProvider(props: ParentProps) {
  const session = createAsync(() => getSession())
  const [chosen, setChosen] = createSignal<string | null>(localStorage.getItem(STORED_PROJECT))
  const project = createMemo(() => {
    const projects = session()?.projects ?? []
    return projects.find((p) => p.id === chosen()) ?? projects[0]
  })
  createEffect(() => {
    const id = project()?.id
    if (id) localStorage.setItem(STORED_PROJECT, id)
  })
  const value: SessionApi = {
    session,
    project,
    projectId: () => project()?.id ?? '',
    timeZone: () => project()?.timeZone ?? 'UTC',
    isOwner: () => project()?.role === 'owner',
    selectProject: setChosen,
    async logout() {
      await api.operator.auth.logout.mutate().catch(() => {})
      setCsrfToken(null)
      await revalidate(getSession.key)
    },
    refresh: () => revalidate(getSession.key),
  }
  return <SessionContext.Provider value={value}>{props.children}</SessionContext.Provider>
}

export function useSession(): SessionApi {
  const context = useContext(SessionContext)
  if (!context) throw new Error('useSession outside SessionProvider')
  return context
}
