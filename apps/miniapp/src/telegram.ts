/** The part of `window.Telegram.WebApp` this app uses (Telegram's telegram-web-app.js). */
export interface TelegramWebApp {
  initData: string
  initDataUnsafe: { user?: { id: number; first_name: string; username?: string } }
  platform: string
  colorScheme: 'light' | 'dark'
  themeParams: Record<string, string | undefined>
  ready(): void
  expand(): void
  openInvoice(url: string, callback?: (status: InvoiceStatus) => void): void
  onEvent(type: 'themeChanged', listener: () => void): void
  offEvent(type: 'themeChanged', listener: () => void): void
}

/** What the client reports when the payment sheet closes. Not proof of anything: see `buy`. */
export type InvoiceStatus = 'paid' | 'cancelled' | 'failed' | 'pending'

declare global {
  interface Window {
    Telegram?: { WebApp?: TelegramWebApp }
  }
}

const OFFICIAL_SCRIPT = 'https://telegram.org/js/telegram-web-app.js'

/**
 * Loads telegram-web-app.js: Telegram's own inside Telegram, the sandbox stand-in (a fixed file
 * shipped with this app) when the sandbox host opened us. Nothing else is ever loaded.
 */
export async function loadTelegram(): Promise<TelegramWebApp | null> {
  if (window.Telegram?.WebApp) return window.Telegram.WebApp
  const platform = new URLSearchParams(window.location.hash.slice(1)).get('tgWebAppPlatform')
  const src =
    platform === 'sandbox'
      ? new URL('telegram-web-app.sandbox.js', document.baseURI).toString()
      : OFFICIAL_SCRIPT
  await new Promise<void>((resolve) => {
    const script = document.createElement('script')
    script.src = src
    script.onload = () => resolve()
    script.onerror = () => resolve()
    document.head.append(script)
  })
  return window.Telegram?.WebApp ?? null
}

/** `openInvoice` as a promise of the status the client reports. */
export function openInvoice(webApp: TelegramWebApp, url: string): Promise<InvoiceStatus> {
  return new Promise((resolve, reject) => {
    try {
      webApp.openInvoice(url, (status) => resolve(status))
    } catch (error) {
      reject(error)
    }
  })
}
