import { createResource, createSignal, For, Match, onCleanup, Show, Switch } from 'solid-js'
import { createAccount } from './account.ts'
import { describeError, type Product, projectId, signIn } from './api.ts'
import { purchase } from './purchase.ts'
import { PremiumScreen } from './screens/Premium.tsx'
import { ShopScreen } from './screens/Shop.tsx'
import { WalletScreen } from './screens/Wallet.tsx'
import { type Shell, ShellContext, type Tone } from './shell.ts'
import type { TelegramWebApp } from './telegram.ts'
import { count } from './words.ts'

const TABS = [
  ['wallet', 'Wallet'],
  ['shop', 'Shop'],
  ['premium', 'Pro'],
] as const
type Tab = (typeof TABS)[number][0]

/** Why this page cannot work at all, before anything is asked of the server. */
function unusable(webApp: TelegramWebApp | null): string | null {
  if (!webApp?.initData) return 'Open this Mini App from the bot in Telegram.'
  if (!projectId) return 'This Mini App does not know its e-Stars project (?project= in its URL).'
  return null
}

/**
 * The shell: signs in from Telegram's init data, shows the balance and the tabs, and gives the
 * screens (wallet, shop, premium) the account's resources. Each screen reads what it shows as
 * its own resources; `account.reload()` makes all of them read again.
 */
export function App(props: { webApp: TelegramWebApp | null }) {
  const [tab, setTab] = createSignal<Tab>('wallet')
  const [notice, setNotice] = createSignal<{ text: string; tone: Tone } | null>(null)
  const [busy, setBusy] = createSignal<string | null>(null)
  const [scheme, setScheme] = createSignal(props.webApp?.colorScheme ?? 'light')
  const show = (text: string, tone: Tone = 'info') => setNotice({ text, tone })
  const fail = (error: unknown) => show(describeError(error), 'error')

  const refused = unusable(props.webApp)
  const [session] = createResource(
    () => (refused ? false : props.webApp?.initData),
    async (initData) => {
      try {
        return { ok: true as const, ...(await signIn(initData)) }
      } catch (error) {
        return { ok: false as const, error: describeError(error) }
      }
    },
  )
  const fatal = () => {
    const s = session()
    return refused ?? (s && !s.ok ? s.error : null)
  }
  const account = createAccount(() => session()?.ok === true, fail)

  async function buy(product: Product) {
    const webApp = props.webApp
    if (!webApp || busy()) return
    setBusy(product.key)
    try {
      await purchase(webApp, account, product, show)
    } catch (error) {
      fail(error)
    } finally {
      setBusy(null)
    }
  }
  const shell: Shell = { account, busy, setBusy, show, fail, buy }
  const reload = () => void account.reload()

  // Refunds, renewals and the bot's own charges happen elsewhere: read again now and then.
  const signedIn = () => session()?.ok === true
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && signedIn()) reload()
  }, 10_000)
  const onVisible = () => {
    if (document.visibilityState === 'visible' && signedIn()) reload()
  }
  document.addEventListener('visibilitychange', onVisible)
  const onTheme = () => setScheme(props.webApp?.colorScheme ?? 'light')
  props.webApp?.onEvent('themeChanged', onTheme)
  onCleanup(() => {
    clearInterval(timer)
    document.removeEventListener('visibilitychange', onVisible)
    props.webApp?.offEvent('themeChanged', onTheme)
  })

  const balance = () => account.balance()
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
        <ShellContext.Provider value={shell}>
          <header class="summary">
            <div class="hello">
              {(() => {
                const s = session()
                return s?.ok ? `Hi, ${s.customer.firstName}` : 'Signing in…'
              })()}
            </div>
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
            <button type="button" class="link" onClick={reload}>
              Refresh
            </button>
          </header>

          <nav class="tabs">
            <For each={TABS}>
              {([key, label]) => (
                <button
                  type="button"
                  classList={{ active: tab() === key }}
                  aria-pressed={tab() === key}
                  onClick={() => {
                    // Pressing a tab again reads it again (access may have changed elsewhere).
                    if (tab() === key) reload()
                    setTab(key)
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
                <WalletScreen />
              </Match>
              <Match when={tab() === 'shop'}>
                <ShopScreen />
              </Match>
              <Match when={tab() === 'premium'}>
                <PremiumScreen />
              </Match>
            </Switch>
          </main>
        </ShellContext.Provider>
      </Show>
    </div>
  )
}
