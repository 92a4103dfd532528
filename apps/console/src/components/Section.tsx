import { ErrorBoundary, type JSX, Suspense } from 'solid-js'
import { ErrorBox, Loading } from './States.tsx'

/** A titled block with its own loading state and an error with retry, so one failure stays local. */
export function Section(props: {
  title?: string
  actions?: JSX.Element
  /** Refetches what failed (usually `revalidate(query.key)`); the section re-renders once it settles. */
  retry: () => unknown
  children: JSX.Element
  class?: string
}) {
  return (
    <section class={`card ${props.class ?? ''}`}>
      {(props.title || props.actions) && (
        <header class="card-header">
          {props.title && <h2>{props.title}</h2>}
          {props.actions}
        </header>
      )}
      <ErrorBoundary
        fallback={(error, reset) => (
          <ErrorBox
            error={error}
            retry={() => {
              void Promise.resolve(props.retry())
                .catch(() => {})
                .finally(reset)
            }}
          />
        )}
      >
        <Suspense fallback={<Loading />}>{props.children}</Suspense>
      </ErrorBoundary>
    </section>
  )
}
