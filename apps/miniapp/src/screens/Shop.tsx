import { For, Show } from 'solid-js'
import { createScreenResource } from '../account.ts'
import { me } from '../api.ts'
import { ProductCard } from '../components/ProductCard.tsx'
import { useShell } from '../shell.ts'

/** Everything on sale for this user. */
export function ShopScreen() {
  const shell = useShell()
  const [products] = createScreenResource(shell.account, me.products, shell.fail)
  return (
    <section>
      <h2>Shop</h2>
      <Show when={products()} fallback={<p class="muted">…</p>}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">Nothing on sale.</p>}>
            <ul class="products">
              <For each={list()}>{(p) => <ProductCard product={p} />}</For>
            </ul>
          </Show>
        )}
      </Show>
    </section>
  )
}
