import { ErrorBoundary, type JSX, Suspense } from 'solid-js'
import { ErrorBox, Loading } from './States.tsx'

/** A titled block with its own loading state and an error with retry, so one failure stays local. */
export function Section(props: {
  title?: string
  actions?: JSX.Element
  retry: () => void
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
              props.retry()
              reset()
            }}
          />
        )}
      >
        <Suspense fallback={<Loading />}>{props.children}</Suspense>
      </ErrorBoundary>
    </section>
  )
}
