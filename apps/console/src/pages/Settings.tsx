import { createAsync, query, revalidate } from '@solidjs/router'
import { createSignal, For, Show } from 'solid-js'
import { confirmDialog } from '../components/ConfirmDialog.tsx'
import { Section } from '../components/Section.tsx'
import { Empty, Outcome } from '../components/States.tsx'
import { api } from '../lib/api.ts'
import { formatDateTime, plural } from '../lib/format.ts'
import { getSession, useSession } from '../lib/session.tsx'

const getSettings = query(
  (projectId: string) => api.operator.settings.get.query({ projectId }),
  'settings',
)
const getTelegram = query(
  (projectId: string) => api.operator.settings.telegram.query({ projectId }),
  'settings-telegram',
)
const getRelayStatus = query(
  (projectId: string) => api.operator.settings.relayStatus.query({ projectId }),
  'relay-status',
)
const listKeys = query(
  (projectId: string) => api.operator.apiKeys.list.query({ projectId }),
  'api-keys',
)

function useAct() {
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<unknown>(null)
  const [done, setDone] = createSignal<string | null>(null)
  const run = async (label: string, fn: () => Promise<unknown>) => {
    setPending(true)
    setError(null)
    setDone(null)
    try {
      await fn()
      setDone(label)
    } catch (e) {
      setError(e)
    } finally {
      setPending(false)
    }
  }
  return { pending, error, done, run }
}

const timeZones = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf(
      'timeZone',
    )
  } catch {
    return ['UTC']
  }
})()

export default function Settings() {
  const session = useSession()
  const settings = createAsync(() => getSettings(session.projectId()))
  const telegram = createAsync(() => getTelegram(session.projectId()))
  const keys = createAsync(() => listKeys(session.projectId()))
  const relay = createAsync(() => getRelayStatus(session.projectId()))
  const general = useAct()
  const bot = useAct()
  const keyAct = useAct()
  const [newKey, setNewKey] = createSignal<{ name: string; key: string } | null>(null)
  const readOnly = () => !session.isOwner()
  return (
    <div class="page">
      <header class="page-header">
        <h1>Settings</h1>
      </header>
      <Section title="Project" retry={() => revalidate(getSettings.key)}>
        <Show when={settings()}>
          {(s) => (
            <form
              class="stack"
              aria-label="Project settings"
              onSubmit={(event) => {
                event.preventDefault()
                const d = new FormData(event.currentTarget)
                void general.run('Settings saved.', async () => {
                  await api.operator.settings.update.mutate({
                    projectId: session.projectId(),
                    name: String(d.get('name')),
                    timeZone: String(d.get('timeZone')),
                    refundPolicy: String(d.get('refundPolicy')) as 'debt' | 'absorb',
                    lowBalanceThreshold: Number(d.get('lowBalanceThreshold')),
                  })
                  await revalidate([getSettings.key, getSession.key])
                })
              }}
            >
              <fieldset disabled={readOnly()}>
                <div class="row">
                  <label>
                    Name
                    <input name="name" required maxLength={100} value={s().name} />
                  </label>
                  <label>
                    Time zone
                    <select name="timeZone" value={s().timeZone}>
                      <For
                        each={
                          timeZones.includes(s().timeZone)
                            ? timeZones
                            : [s().timeZone, ...timeZones]
                        }
                      >
                        {(tz) => <option value={tz}>{tz}</option>}
                      </For>
                    </select>
                  </label>
                </div>
                <div class="row">
                  <label>
                    Refund policy for spent credits
                    <select name="refundPolicy" value={s().refundPolicy}>
                      <option value="debt">Debt: take them back, the rest is owed</option>
                      <option value="absorb">Absorb: the project carries the loss</option>
                    </select>
                  </label>
                  <label>
                    Low-balance threshold (credits)
                    <input
                      name="lowBalanceThreshold"
                      type="number"
                      min="0"
                      value={s().lowBalanceThreshold}
                    />
                  </label>
                </div>
                <button type="submit">Save</button>
              </fieldset>
              <Outcome
                pending={general.pending()}
                error={general.error()}
                success={general.done()}
              />
            </form>
          )}
        </Show>
      </Section>
      <Section title="Telegram" retry={() => revalidate(getTelegram.key)}>
        <Show when={telegram()}>
          {(t) => (
            <div class="stack">
              <p>
                Bot token: <strong>{t().botTokenSet ? 'set' : 'not set'}</strong>{' '}
                <span class="muted">(write-only: it is stored encrypted and never shown)</span>
              </p>
              <Show when={!readOnly()}>
                <form
                  class="row"
                  aria-label="Bot token"
                  onSubmit={(event) => {
                    event.preventDefault()
                    const form = event.currentTarget
                    const d = new FormData(form)
                    void bot.run('Bot token saved.', async () => {
                      await api.operator.settings.setBotToken.mutate({
                        projectId: session.projectId(),
                        botToken: String(d.get('botToken')),
                      })
                      form.reset()
                      await revalidate(getTelegram.key)
                    })
                  }}
                >
                  <input
                    name="botToken"
                    type="password"
                    autocomplete="off"
                    required
                    placeholder="123456789:AA… from @BotFather"
                    aria-label="Bot token"
                  />
                  <button type="submit">Set token</button>
                </form>
              </Show>
              <p>
                Webhook relay: Telegram → <span class="mono">{t().relayPath}</span> →{' '}
                <span class="mono">{t().relayTarget ?? 'stored only (no target)'}</span>
                {t().webhookSecretSet ? ' · secret set' : ''}
              </p>
              <Show when={relay()}>
                {(r) => (
                  <p data-testid="relay-status">
                    Relay status:{' '}
                    {r().pending === 0
                      ? 'nothing waiting'
                      : `${plural(r().pending, 'update')} waiting`}
                    {r().failing > 0 ? `, ${r().failing} failing` : ''}
                    {r().lastForwardedAt
                      ? ` · last forwarded ${formatDateTime(r().lastForwardedAt, session.timeZone())}`
                      : ''}
                    <Show when={r().lastError}>
                      <span class="form-error"> · last error: {r().lastError}</span>
                    </Show>
                  </p>
                )}
              </Show>
              <Show when={!readOnly()}>
                <form
                  class="row"
                  aria-label="Relay target"
                  onSubmit={(event) => {
                    event.preventDefault()
                    const d = new FormData(event.currentTarget)
                    const target = String(d.get('relayTarget')).trim()
                    void bot.run('Relay target saved.', async () => {
                      await api.operator.settings.setRelay.mutate({
                        projectId: session.projectId(),
                        relayTarget: target || null,
                      })
                      await revalidate(getTelegram.key)
                    })
                  }}
                >
                  <input
                    name="relayTarget"
                    type="url"
                    value={t().relayTarget ?? ''}
                    placeholder="https://my-bot.example/webhook"
                    aria-label="Relay target"
                  />
                  <button type="submit">Save target</button>
                </form>
              </Show>
              <Outcome pending={bot.pending()} error={bot.error()} success={bot.done()} />
            </div>
          )}
        </Show>
      </Section>
      <Section title="API keys" retry={() => revalidate(listKeys.key)}>
        <Show when={newKey()}>
          {(k) => (
            <div class="callout" role="status" data-testid="new-key">
              <p>
                <strong>Copy the key “{k().name}” now: it is shown once.</strong>
              </p>
              <code class="secret">{k().key}</code>
              <button type="button" class="secondary small" onClick={() => setNewKey(null)}>
                I stored it
              </button>
            </div>
          )}
        </Show>
        <Show when={keys()}>
          {(list) => (
            <Show
              when={list().length > 0}
              fallback={<Empty>No API keys yet. Your bot needs one.</Empty>}
            >
              <div class="table-scroll">
                <table data-testid="api-keys">
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Key</th>
                      <th>Created</th>
                      <th>Status</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    <For each={list()}>
                      {(k) => (
                        <tr>
                          <td>{k.name}</td>
                          <td class="mono">{k.prefix}…</td>
                          <td>{formatDateTime(k.createdAt, session.timeZone())}</td>
                          <td>
                            {k.revokedAt ? <span class="badge danger">revoked</span> : 'active'}
                          </td>
                          <td>
                            <Show when={!readOnly() && !k.revokedAt}>
                              <button
                                type="button"
                                class="secondary small"
                                onClick={async () => {
                                  const sure = await confirmDialog({
                                    title: `Revoke “${k.name}”?`,
                                    body: 'Bots using this key stop working at once.',
                                    confirmLabel: 'Revoke',
                                    danger: true,
                                  })
                                  if (!sure) return
                                  void keyAct.run('Key revoked.', async () => {
                                    await api.operator.apiKeys.revoke.mutate({
                                      projectId: session.projectId(),
                                      keyId: k.id,
                                    })
                                    await revalidate(listKeys.key)
                                  })
                                }}
                              >
                                Revoke
                              </button>
                            </Show>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
        <Show when={!readOnly()}>
          <form
            class="row"
            aria-label="New API key"
            onSubmit={(event) => {
              event.preventDefault()
              const form = event.currentTarget
              const d = new FormData(form)
              void keyAct.run('Key created.', async () => {
                const created = await api.operator.apiKeys.create.mutate({
                  projectId: session.projectId(),
                  name: String(d.get('name')),
                })
                setNewKey({ name: created.name, key: created.key })
                form.reset()
                await revalidate(listKeys.key)
              })
            }}
          >
            <input
              name="name"
              required
              maxLength={100}
              placeholder="Key name, e.g. production bot"
              aria-label="Key name"
            />
            <button type="submit" disabled={keyAct.pending()}>
              Create key
            </button>
          </form>
        </Show>
        <Outcome
          pending={keyAct.pending()}
          error={keyAct.error()}
          success={newKey() ? null : keyAct.done()}
        />
      </Section>
    </div>
  )
}
