import { For, Show } from 'solid-js'
import { createScreenResource } from '../account.ts'
import { me } from '../api.ts'
import { ProductCard } from '../components/ProductCard.tsx'
import { useShell } from '../shell.ts'

/** The gated feature this screen needs. */
export const PREMIUM_FEATURE = 'pro'

/** Open while the user holds the `pro` entitlement (the server says so), else what unlocks it. */
export function PremiumScreen() {
  const shell = useShell()
  const [access] = createScreenResource(shell.account, () => me.check(PREMIUM_FEATURE), shell.fail)
  const [products] = createScreenResource(shell.account, me.products, shell.fail)
  const unlocks = () => (products() ?? []).filter((p) => p.featureKey === PREMIUM_FEATURE)
  return (
    <Show when={access()} fallback={<p class="muted">…</p>}>
      {(a) => (
        <Show
          when={a().allowed}
          fallback={
            <section class="locked" data-testid="premium-locked">
              <div class="lock" aria-hidden="true">
                🔒
              </div>
              <h2>Pro is locked</h2>
              <p class="muted">Unlock Pro to open this screen.</p>
              <ul class="products">
                <For each={unlocks()}>{(p) => <ProductCard product={p} />}</For>
              </ul>
            </section>
          }
        >
          <section class="premium" data-testid="premium-open">
            <h2>Pro studio</h2>
            <p>Welcome to Pro. Everything here is yours while Pro is active.</p>
            <ul class="list">
              <li>Priority answers</li>
              <li>Longer conversations</li>
              <li>Early features</li>
            </ul>
          </section>
        </Show>
      )}
    </Show>
  )
}
