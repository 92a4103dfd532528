import { Show } from 'solid-js'
import { render } from 'solid-js/web'

export interface ConfirmOptions {
  title: string
  body: string
  confirmLabel: string
  danger?: boolean
  /** Asks for a reason too (what `prompt` was used for); the answer is the reason. */
  reason?: { label: string }
}

/**
 * The console's own confirmation (never the browser's `confirm`/`prompt`): a modal dialog that
 * answers true, the reason typed, or null when cancelled.
 */
export function confirmDialog(options: ConfirmOptions): Promise<string | true | null> {
  return new Promise((resolve) => {
    const host = document.createElement('div')
    document.body.append(host)
    let dialog!: HTMLDialogElement
    let answer: string | true | null = null
    const dispose = render(
      () => (
        <dialog
          ref={dialog}
          aria-labelledby="confirm-title"
          onClose={() => {
            dispose()
            host.remove()
            resolve(answer)
          }}
        >
          <form
            class="stack"
            method="dialog"
            onSubmit={(event) => {
              const reason = new FormData(event.currentTarget).get('reason')
              answer = options.reason ? String(reason ?? '').trim() || null : true
            }}
          >
            <h2 id="confirm-title">{options.title}</h2>
            <p>{options.body}</p>
            <Show when={options.reason}>
              {(r) => (
                <label>
                  {r().label}
                  <input name="reason" type="text" required maxLength={500} autofocus />
                </label>
              )}
            </Show>
            <div class="row end">
              <button type="button" class="secondary" onClick={() => dialog.close()}>
                Cancel
              </button>
              <button type="submit" class={options.danger ? 'danger' : ''}>
                {options.confirmLabel}
              </button>
            </div>
          </form>
        </dialog>
      ),
      host,
    )
    dialog.showModal()
  })
}
