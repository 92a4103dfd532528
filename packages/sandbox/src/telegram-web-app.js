// A stand-in for Telegram's telegram-web-app.js, for Mini Apps run inside the sandbox's host page
// (`miniAppHost`). It speaks the same postMessage protocol Telegram Web uses with a Mini App in an
// iframe — `{ eventType, eventData }` as JSON — so the host plays Telegram's part: it signs the
// init data (in the URL hash), shows the payment sheet and sends theme changes. Only the subset
// e-Stars' reference Mini App uses. Never load it in production: Telegram's own script does this.
;(() => {
  if (window.Telegram?.WebApp) return

  const hash = new URLSearchParams(window.location.hash.slice(1))
  const initData = hash.get('tgWebAppData') ?? ''
  const readJson = (text, fallback) => {
    try {
      return text ? JSON.parse(text) : fallback
    } catch {
      return fallback
    }
  }
  const initDataUnsafe = {}
  for (const [key, value] of new URLSearchParams(initData)) {
    initDataUnsafe[key] = ['user', 'receiver', 'chat'].includes(key) ? readJson(value, null) : value
  }
  if (initDataUnsafe.auth_date) initDataUnsafe.auth_date = Number(initDataUnsafe.auth_date)

  const listeners = new Map()
  const invoiceCallbacks = new Map()
  const emit = (type, payload) => {
    for (const listener of listeners.get(type) ?? []) {
      try {
        listener.call(webApp, payload)
      } catch (error) {
        console.error('[telegram-web-app sandbox]', type, error)
      }
    }
  }
  const post = (eventType, eventData = {}) => {
    if (window.parent === window) return
    window.parent.postMessage(JSON.stringify({ eventType, eventData }), '*')
  }

  const luminance = (hex) => {
    const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex ?? '')
    if (!m) return 1
    const [r, g, b] = [m[1], m[2], m[3]].map((h) => Number.parseInt(h, 16) / 255)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
  }
  const applyTheme = (params) => {
    webApp.themeParams = { ...params }
    webApp.colorScheme = luminance(params.bg_color) < 0.5 ? 'dark' : 'light'
    const style = document.documentElement.style
    for (const [key, value] of Object.entries(params)) {
      style.setProperty(`--tg-theme-${key.replaceAll('_', '-')}`, value)
    }
    style.setProperty('--tg-color-scheme', webApp.colorScheme)
  }

  const webApp = {
    initData,
    initDataUnsafe,
    version: hash.get('tgWebAppVersion') ?? '8.0',
    platform: hash.get('tgWebAppPlatform') ?? 'sandbox',
    colorScheme: 'light',
    themeParams: {},
    isExpanded: true,
    viewportHeight: window.innerHeight,
    viewportStableHeight: window.innerHeight,
    isVersionAtLeast: (version) =>
      Number.parseFloat(webApp.version) >= Number.parseFloat(String(version)),
    ready() {
      post('web_app_ready')
    },
    expand() {
      post('web_app_expand')
    },
    close() {
      post('web_app_close')
    },
    onEvent(type, listener) {
      if (!listeners.has(type)) listeners.set(type, new Set())
      listeners.get(type).add(listener)
    },
    offEvent(type, listener) {
      listeners.get(type)?.delete(listener)
    },
    /** Opens `https://t.me/$slug` (or `https://t.me/invoice/slug`) in the host's payment sheet. */
    openInvoice(url, callback) {
      const match = /^https:\/\/t\.me\/(?:\$|invoice\/)([A-Za-z0-9_-]+)$/.exec(String(url))
      if (!match) throw new Error('WebAppInvoiceUrlInvalid')
      const slug = match[1]
      if (invoiceCallbacks.has(slug)) throw new Error('WebAppInvoiceOpened')
      invoiceCallbacks.set(slug, { url, callback })
      post('web_app_open_invoice', { slug })
    },
    showAlert(message, callback) {
      window.alert(message)
      callback?.()
    },
    HapticFeedback: {
      impactOccurred() {},
      notificationOccurred() {},
      selectionChanged() {},
    },
  }

  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || typeof event.data !== 'string') return
    const message = readJson(event.data, null)
    if (!message || typeof message.eventType !== 'string') return
    const data = message.eventData ?? {}
    if (message.eventType === 'theme_changed' && data.theme_params) {
      applyTheme(data.theme_params)
      emit('themeChanged')
    } else if (message.eventType === 'invoice_closed') {
      const pending = invoiceCallbacks.get(data.slug)
      if (!pending) return
      invoiceCallbacks.delete(data.slug)
      pending.callback?.(data.status)
      emit('invoiceClosed', { url: pending.url, status: data.status })
    }
  })

  applyTheme(readJson(hash.get('tgWebAppThemeParams'), {}))
  window.Telegram = { ...window.Telegram, WebApp: webApp }
  post('web_app_request_theme')
})()
