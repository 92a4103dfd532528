import { type JSX, Show } from 'solid-js'
import { describeError, errorInfo } from '../lib/api.ts'

export function Loading(props: { label?: string }) {
  return (
    <div class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {props.label ?? 'Loading…'}
    </div>
  )
}

export function Empty(props: { children: JSX.Element }) {
  return <div class="state empty">{props.children}</div>
}

/** An error with what to do: retry, or log in again when the session ended. */
export function ErrorBox(props: { error: unknown; retry?: () => void }) {
  const expired = () => errorInfo(props.error).code === 'UNAUTHORIZED'
  return (
    <div class="state error" role="alert">
      <strong>{expired() ? 'Your session ended.' : 'Something went wrong.'}</strong>{' '}
      <span class="error-message">{describeError(props.error)}</span>
      <Show when={!expired() && props.retry}>
        <button type="button" class="secondary" onClick={() => props.retry?.()}>
          Retry
        </button>
      </Show>
      <Show when={expired()}>
        <a href="/login">Log in again</a>
      </Show>
    </div>
  )
}

/** A form's outcome: progress, then the result or the error. */
export function Outcome(props: {
  pending: boolean
  error?: unknown
  success?: JSX.Element | false | null | undefined
}) {
  return (
    <Show
      when={props.pending}
      fallback={
        <Show
          when={props.error}
          fallback={
            <Show when={props.success}>
              <p class="success" role="status">
                {props.success}
              </p>
            </Show>
          }
        >
          <p class="form-error" role="alert">
            {describeError(props.error)}
          </p>
        </Show>
      }
    >
      <p class="pending" role="status">
        Working…
      </p>
    </Show>
  )
}
