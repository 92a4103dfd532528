import { plural } from '@e-stars/billing/format'
import type { Product } from '../api.ts'
import { useShell } from '../shell.ts'
import { count } from '../words.ts'

/** "1,200" and "1 200" → "1200": to see whether a text already states a count. */
const ungrouped = (text: string) => text.replace(/(\d)[,\s\u202f](?=\d{3}\b)/g, '$1')

/** What the card adds to the description: only what the title, description and price do not say. */
export function productDetail(p: Product): string | null {
  const credits = plural(p.credits, 'credit')
  // The description may already say it, grouped or not ("1200 credits", "1,200 credits").
  const said = ungrouped(p.description).includes(`${p.credits} credit`)
  if (p.kind === 'pack') return said ? null : credits
  if (p.kind === 'unlock') {
    const text = ungrouped(p.description).toLowerCase()
    if (p.durationDays)
      return text.includes(`${p.durationDays} day`) ? null : plural(p.durationDays, 'day')
    return /forever|for life/.test(text) ? null : 'for life'
  }
  // The price says "/ month" already; a monthly allowance is worth saying.
  return p.credits > 0 && !said ? `${credits} a month` : null
}

export function ProductCard(props: { product: Product }) {
  const shell = useShell()
  return (
    <li class="product" data-product={props.product.key}>
      <div>
        <b>{props.product.title}</b>
        <div class="muted small">
          {[props.product.description, productDetail(props.product)].filter(Boolean).join(' · ')}
        </div>
      </div>
      <button
        type="button"
        class="primary"
        disabled={shell.busy() !== null}
        onClick={() => void shell.buy(props.product)}
      >
        {shell.busy() === props.product.key ? '…' : `⭐ ${count(props.product.priceStars)}`}
        {props.product.kind === 'subscription' ? ' / month' : ''}
      </button>
    </li>
  )
}
