import { formatNumber, plural } from '@e-stars/billing/format'
import { createSignal, For, Match, onCleanup, onMount, Show, Switch } from 'solid-js'
import {
  type Activity,
  type Balance,
  describeError,
  type Entitlement,
  me,
  type Product,
  projectId,
  type QuotaLine,
  signIn,
} from './api.ts'
import { type InvoiceStatus, openInvoice, type TelegramWebApp } from './telegram.ts'

/** The gated feature the premium screen needs, and the client-consumable metered action. */
export const PREMIUM_FEATURE = 'pro'
export const METERED_FEATURE = 'wallpaper'

type Tab = 'wallet' | 'shop' | 'premium'

/** 12000 → "12,000": the one formatter the console and the timeline use too. */
const count = formatNumber

/** "today", "this week", "this month": how a quota's window is said. */
const periodWords: Record<string, string> = {
  day: 'today',
  week: 'this week',
  month: 'this month',
}
const inPeriod = (period: string) => periodWords[period] ?? `this ${period}`

const when = (iso: string) =>
  new Date(iso).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** How long to keep asking the server after the payment sheet closes, by what the client said. */
const POLL_MS: Record<InvoiceStatus, number> = {
  paid: 30_000,
  pending: 30_000,
  failed: 15_000,
  cancelled: 10_000,
}

export function App(props: { webApp: TelegramWebApp | null }) {
  const [tab, setTab] = createSignal<Tab>('wallet')
  const [name, setName] = createSignal('')
  const [fatal, setFatal] = createSignal<string | null>(null)
  const [balance, setBalance] = createSignal<Balance | null>(null)
  const [entitlements, setEntitlements] = createSignal<Entitlement[]>([])
  const [quotas, setQuotas] = createSignal<QuotaLine[]>([])
  const [activity, setActivity] = createSignal<Activity[]>([])
  const [products, setProducts] = createSignal<Product[]>([])
  const [premium, setPremium] = createSignal<boolean | null>(null)
  const [meteredCost, setMeteredCost] = createSignal<number | null>(null)
  const [notice, setNotice] = createSignal<{ text: string; tone: 'info' | 'ok' | 'error' } | null>(
    null,
  )
  const [busy, setBusy] = createSignal<string | null>(null)
  const [wallpaper, setWallpaper] = createSignal<number | null>(null)
  const [scheme, setScheme] = createSignal(props.webApp?.colorScheme ?? 'light')

  /** Everything the screens show, read again from the server (the only source of truth). */
  async function refresh() {
    const [b, e, q, a, pro, metered] = await Promise.all([
      me.balance(),
      me.entitlements(),
      me.quotas(),
      me.activity(),
      me.check(PREMIUM_FEATURE),
      me.check(METERED_FEATURE),
    ])
    setBalance(b)
    setEntitlements(e)
    setQuotas(q)
    setActivity(a)
    setPremium(pro.allowed)
    setMeteredCost(metered.reason === 'unknown_feature' ? null : metered.costCredits)
    return JSON.stringify([b.available, b.debt, e.map((x) => [x.featureKey, x.endsAt])])
  }

  const safeRefresh = () => refresh().catch((error) => show(describeError(error), 'error'))
  const show = (text: string, tone: 'info' | 'ok' | 'error' = 'info') => setNotice({ text, tone })

  onMount(async () => {
    if (!props.webApp?.initData) {
      setFatal('Open this Mini App from the bot in Telegram.')
      return
    }
    if (!projectId) {
      setFatal('This Mini App does not know its e-Stars project (?project= in its URL).')
      return
    }
    try {
      const session = await signIn(props.webApp.initData)
      setName(session.customer.firstName)
      const [catalog] = await Promise.all([me.products(), refresh()])
      setProducts(catalog)
    } catch (error) {
      setFatal(describeError(error))
    }
  })

  // Refunds, renewals and the bot's own charges happen elsewhere: read again now and then.
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && !fatal() && balance()) void safeRefresh()
  }, 10_000)
  const onVisible = () => {
    if (document.visibilityState === 'visible' && balance()) void safeRefresh()
  }
  document.addEventListener('visibilitychange', onVisible)
  const onTheme = () => setScheme(props.webApp?.colorScheme ?? 'light')
  props.webApp?.onEvent('themeChanged', onTheme)
  onCleanup(() => {
    clearInterval(timer)
    document.removeEventListener('visibilitychange', onVisible)
    props.webApp?.offEvent('themeChanged', onTheme)
  })

  /**
   * Buys through Telegram's payment sheet. The status the client reports is only a hint (clients
   * have said "failed" or "cancelled" for payments that went through): the server decides, so we
   * ask it until the balance or the entitlements change, or for a while.
   */
  async function buy(product: Product) {
    const webApp = props.webApp
    if (!webApp || busy()) return
    setBusy(product.key)
    try {
      show(`Opening the payment for ${product.title}…`)
      const invoice = await me.buy(product.key)
      const before = await refresh()
      const status = await openInvoice(webApp, invoice.invoiceLink)
      show(
        status === 'paid'
          ? 'Payment sent. Updating your balance…'
          : `Telegram reported “${status}”. Checking with the server…`,
      )
      const deadline = Date.now() + POLL_MS[status]
      let changed = false
      while (!changed && Date.now() < deadline) {
        await sleep(800)
        changed = (await refresh()) !== before
      }
      if (changed) show(`${product.title}: done. Thank you!`, 'ok')
      else if (status === 'paid' || status === 'pending')
        show('Payment received; it will show up here in a moment.', 'info')
      else show('No payment was made.', 'info')
    } catch (error) {
      show(describeError(error), 'error')
    } finally {
      setBusy(null)
    }
  }

  async function makeWallpaper() {
    if (busy()) return
    setBusy(METERED_FEATURE)
    try {
      const used = await me.consume(METERED_FEATURE, crypto.randomUUID())
      setWallpaper(used.usageId)
      show(`Wallpaper made: ${plural(-used.credits, 'credit')}.`, 'ok')
      await refresh()
    } catch (error) {
      show(describeError(error), 'error')
    } finally {
      setBusy(null)
    }
  }

  const premiumProducts = () => products().filter((p) => p.featureKey === PREMIUM_FEATURE)

  return (
    <div class="app" data-scheme={scheme()}>
      <Show
        when={!fatal()}
        fallback={
          <div class="fatal" role="alert">
            {fatal()}
          </div>
        }
      >
        <header class="summary">
          <div class="hello">{name() ? `Hi, ${name()}` : 'Signing in…'}</div>
          <div class="balance" data-testid="balance">
            <Show when={balance()} fallback={<span class="muted">…</span>}>
              {(b) => (
                <>
                  <span class="amount">{count(b().available)}</span> credits
                </>
              )}
            </Show>
          </div>
          <Show when={(balance()?.held ?? 0) > 0 || (balance()?.debt ?? 0) > 0}>
            <div class="muted small">
              {count(balance()?.held ?? 0)} held · {count(balance()?.debt ?? 0)} owed
            </div>
          </Show>
          <button type="button" class="link" onClick={() => void safeRefresh()}>
            Refresh
          </button>
        </header>

        <nav class="tabs">
          <For
            each={
              [
                ['wallet', 'Wallet'],
                ['shop', 'Shop'],
                ['premium', 'Pro'],
              ] as const
            }
          >
            {([key, label]) => (
              <button
                type="button"
                classList={{ active: tab() === key }}
                aria-pressed={tab() === key}
                onClick={() => {
                  setTab(key)
                  if (key === 'premium') void safeRefresh()
                }}
              >
                {label}
              </button>
            )}
          </For>
        </nav>

        <Show when={notice()}>
          {(n) => (
            <div class={`notice ${n().tone}`} role="status" data-testid="notice">
              {n().text}
            </div>
          )}
        </Show>

        <main>
          <Switch>
            <Match when={tab() === 'wallet'}>
              <section>
                <h2>Unlocked</h2>
                <Show
                  when={entitlements().length > 0}
                  fallback={<p class="muted">Nothing unlocked yet.</p>}
                >
                  <ul class="list">
                    <For each={entitlements()}>
                      {(e) => (
                        <li>
                          <b>{e.featureName}</b>
                          <span class="muted">
                            {e.endsAt ? `until ${when(e.endsAt)}` : 'for life'}
                          </span>
                        </li>
                      )}
                    </For>
                  </ul>
                </Show>
              </section>
              <Show when={meteredCost() !== null}>
                <section class="card">
                  <h2>Wallpaper</h2>
                  <p class="muted">
                    A wallpaper made for you, {plural(meteredCost() ?? 0, 'credit')} each.
                  </p>
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
                    disabled={busy() !== null}
                    onClick={() => void makeWallpaper()}
                  >
                    Make a wallpaper · {plural(meteredCost() ?? 0, 'credit')}
                  </button>
                </section>
              </Show>
              <Show when={quotas().length > 0}>
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
                          <span class="muted">
                            {q.resetsAt ? `resets ${when(q.resetsAt)}` : ''}
                          </span>
                        </li>
                      )}
                    </For>
                  </ul>
                </section>
              </Show>
              <section>
                <h2>Recent</h2>
                <Show when={activity().length > 0} fallback={<p class="muted">No activity yet.</p>}>
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
                </Show>
              </section>
            </Match>

            <Match when={tab() === 'shop'}>
              <section>
                <h2>Shop</h2>
                <Show when={products().length > 0} fallback={<p class="muted">Nothing on sale.</p>}>
                  <ul class="products">
                    <For each={products()}>
                      {(p) => <ProductCard product={p} busy={busy()} onBuy={buy} />}
                    </For>
                  </ul>
                </Show>
              </section>
            </Match>

            <Match when={tab() === 'premium'}>
              <Show
                when={premium()}
                fallback={
                  <section class="locked" data-testid="premium-locked">
                    <div class="lock" aria-hidden="true">
                      🔒
                    </div>
                    <h2>Pro is locked</h2>
                    <p class="muted">Unlock Pro to open this screen.</p>
                    <ul class="products">
                      <For each={premiumProducts()}>
                        {(p) => <ProductCard product={p} busy={busy()} onBuy={buy} />}
                      </For>
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
            </Match>
          </Switch>
        </main>
      </Show>
    </div>
  )
}

/** "1,200" and "1 200" → "1200": to see whether a text already states a count. */
const ungrouped = (text: string) => text.replace(/(\d)[,\s\u202f](?=\d{3}\b)/g, '$1')

function ProductCard(props: {
  product: Product
  busy: string | null
  onBuy: (product: Product) => void
}) {
  /** What the card adds to the description: only what the title, description and price do not say. */
  const detail = () => {
    const p = props.product
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
  return (
    <li class="product" data-product={props.product.key}>
      <div>
        <b>{props.product.title}</b>
        <div class="muted small">
          {[props.product.description, detail()].filter(Boolean).join(' · ')}
        </div>
      </div>
      <button
        type="button"
        class="primary"
        disabled={props.busy !== null}
        onClick={() => props.onBuy(props.product)}
      >
        {props.busy === props.product.key ? '…' : `⭐ ${count(props.product.priceStars)}`}
        {props.product.kind === 'subscription' ? ' / month' : ''}
      </button>
    </li>
  )
}
