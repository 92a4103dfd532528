import { action, createAsync, query, revalidate, useAction, useSubmission } from '@solidjs/router'
import { createEffect, createSignal, For, on, Show } from 'solid-js'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { Table } from '../components/Table.tsx'
import { consoleConfig } from '../lib/config.ts'
import { formatNumber, formatStars } from '../lib/format.ts'
import {
  type SandboxButton,
  type SandboxMessage,
  type SandboxTransaction,
  type SandboxUser,
  sandbox,
  sandboxFileUrl,
} from '../lib/sandbox.ts'
import { useSession } from '../lib/session.tsx'

const getState = query(
  () => sandbox<{ users: SandboxUser[]; now: number }>('/state'),
  'sandbox-state',
)
const getTranscript = query(
  (userId: number) => sandbox<SandboxMessage[]>(`/transcript?userId=${userId}`),
  'sandbox-transcript',
)
const getTransactions = query(
  () => sandbox<{ transactions: SandboxTransaction[] } | SandboxTransaction[]>('/transactions'),
  'sandbox-transactions',
)

/**
 * The bot answers a moment after the sandbox took the act: read the chat again until it has. In
 * the background: the act is done (the form clears, the buttons work) while the reply arrives.
 */
async function followTheBot() {
  await revalidate([getTranscript.key, getTransactions.key])
  for (const wait of [400, 1200]) {
    await new Promise((resolve) => setTimeout(resolve, wait))
    await revalidate(getTranscript.key)
  }
}

/** A press, a payment or a Telegram-side refund; answers the sentence to show. */
const actInSandbox = action(async (label: string, path: string, body: unknown) => {
  await sandbox(path, body)
  void followTheBot()
  return label
}, 'sandbox-act')

/** A message written as the chosen user. */
const sendMessage = action(async (userId: number | null, d: FormData) => {
  await sandbox('/messages', { userId, text: String(d.get('text')) })
  void followTheBot()
  return 'Sent.'
}, 'sandbox-send')

/** Act as a Telegram user against the sandbox and watch the console follow. */
export default function Sandbox() {
  const config = createAsync(() => consoleConfig())
  const session = useSession()
  /** The reference Mini App inside the sandbox's Telegram host page, as the chosen user. */
  const miniAppLink = () =>
    `/miniapp/open?project=${encodeURIComponent(session.projectId())}${current() ? `&user=${current()}` : ''}`
  const state = createAsync(() => getState())
  const [userId, setUserId] = createSignal<number | null>(null)
  const current = () => userId() ?? state()?.users[0]?.id ?? null
  const transcript = createAsync(async () => {
    const id = current()
    return id ? getTranscript(id) : []
  })
  const transactions = createAsync(async () => {
    const result = await getTransactions()
    return Array.isArray(result) ? result : result.transactions
  })
  const acted = useSubmission(actInSandbox)
  const sent = useSubmission(sendMessage)
  const run = useAction(actInSandbox)
  const act = (label: string, path: string, body: unknown) =>
    void run(label, path, body).catch(() => {})
  const pending = () => Boolean(acted.pending || sent.pending)
  let messageForm: HTMLFormElement | undefined
  createEffect(() => {
    if (sent.result) messageForm?.reset()
  })
  // Charges Telegram already refunded: their refund row carries the same id.
  const refunded = () => new Set((transactions() ?? []).filter((t) => t.receiver).map((t) => t.id))
  let chat: HTMLOListElement | undefined
  // Like a chat app: the newest message in view after every send, press or payment.
  createEffect(
    on(
      () => transcript()?.length,
      () => queueMicrotask(() => chat?.scrollTo({ top: chat.scrollHeight })),
    ),
  )
  const press = (m: SandboxMessage, button: SandboxButton) => {
    if (button.pay) return act('Paid.', '/payments', { userId: current(), messageId: m.message_id })
    return act(`Pressed “${button.text}”.`, '/button-presses', {
      userId: current(),
      messageId: m.message_id,
      data: button.callback_data,
    })
  }
  const refresh = () => revalidate([getState.key, getTranscript.key, getTransactions.key])
  return (
    <div class="page">
      <header class="page-header">
        <h1>Sandbox</h1>
        <button type="button" class="secondary" onClick={refresh}>
          Refresh
        </button>
      </header>
      <Show
        when={config()?.sandbox !== false}
        fallback={<Empty>This server does not run against the sandbox.</Empty>}
      >
        <p class="muted">
          You are a Telegram user talking to the bot in the sandbox: write to it, pay its invoices
          with pretend Stars, or refund a charge from Telegram's side, and watch Customers and
          Payments update.
        </p>
        <p>
          <a href={miniAppLink()} target="_blank" rel="noopener" data-testid="miniapp-link">
            Open the Mini App in the sandbox Telegram
          </a>{' '}
          <span class="muted">
            — the reference Mini App (apps/miniapp) as this user: buy with openInvoice, open the
            premium screen, switch light and dark.
          </span>
        </p>
        <Outcome pending={Boolean(acted.pending)} error={acted.error} success={acted.result} />
        <div class="columns">
          <Section title="Chat" retry={refresh}>
            <label class="row">
              User
              <select
                value={current() ?? ''}
                onChange={(e) => setUserId(Number(e.currentTarget.value))}
              >
                <For each={state()?.users ?? []}>
                  {(u) => (
                    <option value={u.id}>
                      {u.first_name} ({u.id})
                    </option>
                  )}
                </For>
              </select>
            </label>
            <Show
              when={(transcript() ?? []).length > 0}
              fallback={<Empty>No messages yet: say /start.</Empty>}
            >
              <ol class="chat" ref={chat} data-testid="chat">
                <For each={transcript()}>
                  {(m) => (
                    <li classList={{ bot: Boolean(m.from?.is_bot), me: !m.from?.is_bot }}>
                      <Show when={m.photo?.[m.photo.length - 1]}>
                        {(photo) => (
                          <img
                            src={sandboxFileUrl(photo().file_id)}
                            width={photo().width}
                            height={photo().height}
                            alt={m.caption ?? 'Photo from the bot'}
                          />
                        )}
                      </Show>
                      <Show when={m.text ?? m.caption}>{(text) => <span>{text()}</span>}</Show>
                      <Show when={m.reply_markup?.inline_keyboard}>
                        {(rows) => (
                          <fieldset class="keyboard" aria-label="Buttons">
                            <For each={rows()}>
                              {(row) => (
                                <div class="keyboard-row">
                                  <For each={row}>
                                    {(button) => (
                                      <Show
                                        when={!button.url}
                                        fallback={
                                          <a href={button.url} target="_blank" rel="noopener">
                                            {button.text}
                                          </a>
                                        }
                                      >
                                        <button
                                          type="button"
                                          disabled={
                                            pending() ||
                                            (!button.pay && button.callback_data === undefined)
                                          }
                                          onClick={() => press(m, button)}
                                        >
                                          {button.text}
                                        </button>
                                      </Show>
                                    )}
                                  </For>
                                </div>
                              )}
                            </For>
                          </fieldset>
                        )}
                      </Show>
                      <Show when={m.invoice}>
                        {(invoice) => (
                          <div class="invoice">
                            <strong>{invoice().title}</strong> ·{' '}
                            {formatStars(invoice().total_amount)}{' '}
                            <button
                              type="button"
                              class="small"
                              disabled={pending()}
                              onClick={() =>
                                act('Paid.', '/payments', {
                                  userId: current(),
                                  messageId: m.message_id,
                                })
                              }
                            >
                              Pay
                            </button>
                          </div>
                        )}
                      </Show>
                      <Show when={m.successful_payment}>
                        {(p) => <em>Paid {formatStars(p().total_amount)}</em>}
                      </Show>
                      <Show when={m.refunded_payment}>
                        {(p) => <em>Refunded {formatStars(p().total_amount)}</em>}
                      </Show>
                    </li>
                  )}
                </For>
              </ol>
            </Show>
            <form
              ref={messageForm}
              class="row compose"
              action={sendMessage.with(current())}
              method="post"
            >
              <input name="text" required placeholder="/start" aria-label="Message" />
              <button type="submit" disabled={pending() || !current()}>
                Send
              </button>
            </form>
            <Outcome pending={false} error={sent.error} />
          </Section>
          <Section title="Telegram's star transactions" retry={refresh}>
            <Table
              rows={transactions() ?? []}
              label="Telegram's star transactions"
              empty="No charges yet."
              columns={[
                { header: 'Charge', class: 'mono small', cell: (t) => t.id },
                {
                  header: 'Stars',
                  class: 'num',
                  cell: (t) =>
                    t.receiver ? formatNumber(-t.amount) : `+${formatNumber(t.amount)}`,
                },
                {
                  header: '',
                  cell: (t) => (
                    <Show when={t.source && !refunded().has(t.id)}>
                      <button
                        type="button"
                        class="secondary small"
                        disabled={pending()}
                        onClick={() => act('Refunded by Telegram.', '/refunds', { chargeId: t.id })}
                      >
                        Refund (Telegram side)
                      </button>
                    </Show>
                  ),
                },
              ]}
            />
          </Section>
        </div>
      </Show>
    </div>
  )
}
