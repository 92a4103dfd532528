import { type JSX, Show } from 'solid-js'
import { marginErrorText } from './money.ts'

/** A margin form's outcome: progress, then the result or the error in words (never a validator's text). */
export function MarginOutcome(props: {
  pending: boolean
  error?: unknown
  success?: JSX.Element | false | null | undefined
  testid: string
}) {
  return (
    <Show
      when={props.pending}
      fallback={
        <Show
          when={props.error}
          fallback={
            <Show when={props.success}>
              <p class="success" role="status" data-testid={`${props.testid}-done`}>
                {props.success}
              </p>
            </Show>
          }
        >
          <p class="form-error" role="alert" data-testid={`${props.testid}-error`}>
            {marginErrorText(props.error)}
          </p>
        </Show>
      }
    >
      <p class="pending" role="status">
        Saving…
      </p>
    </Show>
  )
}
