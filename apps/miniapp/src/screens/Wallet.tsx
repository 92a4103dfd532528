import { plural } from '@e-stars/billing/format'
import { createSignal, For, type JSX, Show } from 'solid-js'
import { createScreenResource } from '../account.ts'
import { me } from '../api.ts'
import { useShell } from '../shell.ts'
import { count, inPeriod, when } from '../words.ts'

/** The client-consumable metered action this screen offers. */
export const METERED_FEATURE = 'wallpaper'

/** What the user has: unlocks, the metered action, limits and recent activity. */
export function WalletScreen() {
  const shell = useShell()
  const [quotas] = createScreenResource(shell.account, me.quotas, shell.fail)
  const [activity] = createScreenResource(shell.account, me.activity, shell.fail)
  const [metered] = createScreenResource(shell.account, () => me.check(METERED_FEATURE), shell.fail)
  const cost = () => {
    const m = metered()
    return !m || m.reason === 'unknown_feature' ? null : m.costCredits
  }
  const [wallpaper, setWallpaper] = createSignal<number | null>(null)

  async function makeWallpaper() {
    if (shell.busy()) return
    shell.setBusy(METERED_FEATURE)
    try {
      const used = await me.consume(METERED_FEATURE, crypto.randomUUID())
      setWallpaper(used.usageId)
      shell.show(`Wallpaper made: ${plural(-used.credits, 'credit')}.`, 'ok')
      await shell.account.reload()
    } catch (error) {
      shell.fail(error)
    } finally {
      shell.setBusy(null)
    }
  }

  return (
    <>
      <section>
        <h2>Unlocked</h2>
        <Loaded items={shell.account.entitlements()} empty="Nothing unlocked yet.">
          <ul class="list">
            <For each={shell.account.entitlements()}>
              {(e) => (
                <li>
                  <b>{e.featureName}</b>
                  <span class="muted">{e.endsAt ? `until ${when(e.endsAt)}` : 'for life'}</span>
                </li>
              )}
            </For>
          </ul>
        </Loaded>
      </section>
      <Show when={cost() !== null}>
        <section class="card">
          <h2>Wallpaper</h2>
          <p class="muted">A wallpaper made for you, {plural(cost() ?? 0, 'credit')} each.</p>
          <Show when={wallpaper()}>
            {(seed) => (
              <div
                class="wallpaper"
                data-testid="wallpaper"
                style={{
                  background: `linear-gradient(${(seed() * 47) % 360}deg, hsl(${(seed() * 97) % 360} 80% 60%), hsl(${(seed() * 31) % 360} 70% 45%))`,
                }}
              />
            )}
          </Show>
          <button
            type="button"
            class="primary"
            disabled={shell.busy() !== null}
            onClick={() => void makeWallpaper()}
          >
            Make a wallpaper · {plural(cost() ?? 0, 'credit')}
          </button>
        </section>
      </Show>
      <Show when={(quotas() ?? []).length > 0}>
        <section>
          <h2>Limits</h2>
          <ul class="list">
            <For each={quotas()}>
              {(q) => (
                <li>
                  <span>
                    {q.featureName}: {count(q.remaining)} of {count(q.limit)}{' '}
                    {q.free ? 'free' : 'left'} {inPeriod(q.period)}
                  </span>
                  <span class="muted">{q.resetsAt ? `resets ${when(q.resetsAt)}` : ''}</span>
                </li>
              )}
            </For>
          </ul>
        </section>
      </Show>
      <section>
        <h2>Recent</h2>
        <Loaded items={activity()} empty="No activity yet.">
          <ul class="list" data-testid="activity">
            <For each={activity()}>
              {(a) => (
                <li>
                  <span>{a.text}</span>
                  <span class={`change ${a.tone}`}>{a.change}</span>
                </li>
              )}
            </For>
          </ul>
        </Loaded>
      </section>
    </>
  )
}

/** A list's children once it has loaded and has items; "…" before, `empty` when it has none. */
function Loaded(props: {
  items: readonly unknown[] | undefined
  empty: string
  children: JSX.Element
}) {
  return (
    <Show when={props.items} fallback={<p class="muted">…</p>}>
      <Show when={(props.items ?? []).length > 0} fallback={<p class="muted">{props.empty}</p>}>
        {props.children}
      </Show>
    </Show>
  )
}
