import { A, createAsync, type RouteSectionProps, useNavigate } from '@solidjs/router'
import { createEffect, ErrorBoundary, For, Show, Suspense } from 'solid-js'
import { consoleConfig } from '../lib/config.ts'
import { useSession } from '../lib/session.tsx'
import { ErrorBox, Loading } from './States.tsx'

const links = [
  { href: '/', label: 'Overview', end: true },
  { href: '/customers', label: 'Customers' },
  { href: '/payments', label: 'Payments' },
  { href: '/products', label: 'Products' },
  { href: '/margin', label: 'Margin' },
  { href: '/reconciliation', label: 'Reconciliation' },
  { href: '/treasury', label: 'Treasury' },
  { href: '/webhooks', label: 'Webhooks' },
  { href: '/settings', label: 'Settings' },
  { href: '/audit', label: 'Audit log' },
]

/** The frame of every logged-in page: navigation, project switcher, and the page's own boundary. */
export function Layout(props: RouteSectionProps) {
  const session = useSession()
  const navigate = useNavigate()
  const config = createAsync(() => consoleConfig())
  createEffect(() => {
    if (session.session() === null) navigate('/login', { replace: true })
  })
  return (
    <Show when={session.session()} fallback={<Loading label="Opening the console…" />}>
      {(current) => (
        <div class="shell">
          <nav class="sidebar" aria-label="Main">
            <div class="brand">e-Stars</div>
            <label class="project-picker">
              <span>Project</span>
              <select
                value={session.projectId()}
                onChange={(e) => session.selectProject(e.currentTarget.value)}
              >
                <For each={current().projects}>
                  {(p) => (
                    <option value={p.id}>
                      {p.name} ({p.role})
                    </option>
                  )}
                </For>
              </select>
            </label>
            <ul>
              <For each={links}>
                {(link) => (
                  <li>
                    <A href={link.href} end={link.end} activeClass="active">
                      {link.label}
                    </A>
                  </li>
                )}
              </For>
              <Show when={config()?.sandbox}>
                <li>
                  <A href="/sandbox" activeClass="active">
                    Sandbox
                  </A>
                </li>
              </Show>
            </ul>
            <div class="whoami">
              <span title={current().operator.email}>{current().operator.email}</span>
              <Show when={!session.isOwner()}>
                <span class="badge">viewer</span>
              </Show>
              <button
                type="button"
                class="link"
                onClick={async () => {
                  await session.logout()
                  navigate('/login', { replace: true })
                }}
              >
                Log out
              </button>
            </div>
          </nav>
          <main class="content">
            <Show
              when={current().projects.length > 0}
              fallback={
                <ErrorBox
                  error={
                    new Error('You are not a member of any project yet. Ask an owner to add you.')
                  }
                />
              }
            >
              <ErrorBoundary fallback={(error, reset) => <ErrorBox error={error} retry={reset} />}>
                <Suspense fallback={<Loading />}>{props.children}</Suspense>
              </ErrorBoundary>
            </Show>
          </main>
        </div>
      )}
    </Show>
  )
}
