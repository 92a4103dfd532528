import { action, createAsync, query, revalidate, useAction, useSubmission } from '@solidjs/router'
import { createEffect, For, Show } from 'solid-js'
import { confirmDialog } from '../components/ConfirmDialog.tsx'
import { Section } from '../components/Section.tsx'
import { Outcome } from '../components/States.tsx'
import { Table } from '../components/Table.tsx'
import { api } from '../lib/api.ts'
import { formatDateTime, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

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

type OveragePolicy = 'cap' | 'debt' | 'absorb'

/** What each overage policy does, in one sentence (the Settings page's explanation). */
export const OVERAGE_POLICIES: Array<{ value: OveragePolicy; label: string; sentence: string }> = [
  {
    value: 'cap',
    label: 'Cap',
    sentence:
      'The default: the bot reserves only what the customer can pay and caps the answer to it, so no answer costs more than its hold.',
  },
  {
    value: 'debt',
    label: 'Debt',
    sentence:
      'The answer runs to its end and the part the customer cannot pay becomes debt, repaid first from their next credits.',
  },
  {
    value: 'absorb',
    label: 'Absorb',
    sentence:
      'The answer runs to its end and the part the customer cannot pay is recorded as the project’s loss.',
  },
]

const saveProject = action(async (projectId: string, d: FormData) => {
  await api.operator.settings.update.mutate({
    projectId,
    name: String(d.get('name')),
    timeZone: String(d.get('timeZone')),
    refundPolicy: String(d.get('refundPolicy')) as 'debt' | 'absorb',
    lowBalanceThreshold: Number(d.get('lowBalanceThreshold')),
  })
  return 'Settings saved.'
}, 'settings-project')

const saveOveragePolicy = action(async (projectId: string, d: FormData) => {
  const policy = String(d.get('overagePolicy')) as OveragePolicy
  await api.operator.settings.update.mutate({ projectId, overagePolicy: policy })
  const label = OVERAGE_POLICIES.find((p) => p.value === policy)?.label ?? policy
  return `Overage policy saved: ${label}.`
}, 'settings-overage')

const saveBotToken = action(async (projectId: string, d: FormData) => {
  await api.operator.settings.setBotToken.mutate({ projectId, botToken: String(d.get('botToken')) })
  return 'Bot token saved.'
}, 'settings-bot-token')

const saveRelay = action(async (projectId: string, d: FormData) => {
  const target = String(d.get('relayTarget')).trim()
  await api.operator.settings.setRelay.mutate({ projectId, relayTarget: target || null })
  return 'Relay target saved.'
}, 'settings-relay')

const createKey = action(async (projectId: string, d: FormData) => {
  const created = await api.operator.apiKeys.create.mutate({
    projectId,
    name: String(d.get('name')),
  })
  return { name: created.name, key: created.key }
}, 'api-key-create')

const revokeKey = action(async (projectId: string, key: { id: string; name: string }) => {
  const sure = await confirmDialog({
    title: `Revoke “${key.name}”?`,
    body: 'Bots using this key stop working at once.',
    confirmLabel: 'Revoke',
    danger: true,
  })
  if (!sure) return null
  await api.operator.apiKeys.revoke.mutate({ projectId, keyId: key.id })
  return 'Key revoked.'
}, 'api-key-revoke')

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
  const project = useSubmission(saveProject)
  const overage = useSubmission(saveOveragePolicy)
  const token = useSubmission(saveBotToken)
  const relaySaved = useSubmission(saveRelay)
  const created = useSubmission(createKey)
  const revoked = useSubmission(revokeKey)
  const revoke = useAction(revokeKey)
  let tokenForm: HTMLFormElement | undefined
  let keyForm: HTMLFormElement | undefined
  createEffect(() => {
    if (token.result) tokenForm?.reset()
  })
  createEffect(() => {
    if (created.result) keyForm?.reset()
  })
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
              action={saveProject.with(session.projectId())}
              method="post"
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
                <div class="row">
                  <button type="submit" disabled={project.pending}>
                    Save
                  </button>
                </div>
              </fieldset>
              <Outcome
                pending={Boolean(project.pending)}
                error={project.error}
                success={project.result}
              />
            </form>
          )}
        </Show>
      </Section>
      <Section title="Overage" retry={() => revalidate(getSettings.key)}>
        <Show when={settings()}>
          {(s) => (
            <form
              class="stack"
              aria-label="Overage policy"
              action={saveOveragePolicy.with(session.projectId())}
              method="post"
            >
              <p class="muted">
                When an answer costs more than the customer can pay (the model used more than its
                hold and the balance cannot cover the rest):
              </p>
              <fieldset class="choices" disabled={readOnly()} data-testid="overage-policy">
                <legend class="visually-hidden">Overage policy</legend>
                <For each={OVERAGE_POLICIES}>
                  {(policy) => (
                    <label class="choice">
                      <input
                        type="radio"
                        name="overagePolicy"
                        value={policy.value}
                        checked={s().overagePolicy === policy.value}
                      />
                      <span>
                        <strong>{policy.label}</strong>
                        <span class="muted"> — {policy.sentence}</span>
                      </span>
                    </label>
                  )}
                </For>
              </fieldset>
              <Show
                when={!readOnly()}
                fallback={<p class="muted small">Only an owner changes the overage policy.</p>}
              >
                <div class="row">
                  <button type="submit" disabled={overage.pending}>
                    Save policy
                  </button>
                </div>
              </Show>
              <Outcome
                pending={Boolean(overage.pending)}
                error={overage.error}
                success={overage.result}
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
                  ref={tokenForm}
                  class="row"
                  aria-label="Bot token"
                  action={saveBotToken.with(session.projectId())}
                  method="post"
                >
                  <input
                    name="botToken"
                    type="password"
                    autocomplete="off"
                    required
                    placeholder="123456789:AA… from @BotFather"
                    aria-label="Bot token"
                  />
                  <button type="submit" disabled={token.pending}>
                    Set token
                  </button>
                </form>
                <Outcome
                  pending={Boolean(token.pending)}
                  error={token.error}
                  success={token.result}
                />
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
                  action={saveRelay.with(session.projectId())}
                  method="post"
                >
                  <input
                    name="relayTarget"
                    type="url"
                    value={t().relayTarget ?? ''}
                    placeholder="https://my-bot.example/webhook"
                    aria-label="Relay target"
                  />
                  <button type="submit" disabled={relaySaved.pending}>
                    Save target
                  </button>
                </form>
                <Outcome
                  pending={Boolean(relaySaved.pending)}
                  error={relaySaved.error}
                  success={relaySaved.result}
                />
              </Show>
            </div>
          )}
        </Show>
      </Section>
      <Section title="API keys" retry={() => revalidate(listKeys.key)}>
        <Show when={created.result}>
          {(k) => (
            <div class="callout" role="status" data-testid="new-key">
              <p>
                <strong>Copy the key “{k().name}” now: it is shown once.</strong>
              </p>
              <code class="secret">{k().key}</code>
              <button type="button" class="secondary small" onClick={() => created.clear()}>
                I stored it
              </button>
            </div>
          )}
        </Show>
        <Show when={keys()}>
          {(list) => (
            <Table
              rows={list()}
              testId="api-keys"
              label="API keys"
              empty="No API keys yet. Your bot needs one."
              columns={[
                { header: 'Name', cell: (k) => k.name },
                { header: 'Key', class: 'mono', cell: (k) => `${k.prefix}…` },
                {
                  header: 'Created',
                  class: 'when',
                  cell: (k) => formatDateTime(k.createdAt, session.timeZone()),
                },
                {
                  header: 'Status',
                  cell: (k) => (k.revokedAt ? <span class="badge danger">revoked</span> : 'active'),
                },
                {
                  header: '',
                  cell: (k) => (
                    <Show when={!readOnly() && !k.revokedAt}>
                      <button
                        type="button"
                        class="secondary small"
                        disabled={revoked.pending}
                        onClick={() => void revoke(session.projectId(), k).catch(() => {})}
                      >
                        Revoke
                      </button>
                    </Show>
                  ),
                },
              ]}
            />
          )}
        </Show>
        <Show when={!readOnly()}>
          <form
            ref={keyForm}
            class="row"
            aria-label="New API key"
            action={createKey.with(session.projectId())}
            method="post"
          >
            <input
              name="name"
              required
              maxLength={100}
              placeholder="Key name, e.g. production bot"
              aria-label="Key name"
            />
            <button type="submit" disabled={created.pending}>
              Create key
            </button>
          </form>
        </Show>
        <Outcome pending={Boolean(created.pending)} error={created.error} />
        <Outcome
          pending={Boolean(revoked.pending)}
          error={revoked.error}
          success={revoked.result}
        />
      </Section>
    </div>
  )
}
