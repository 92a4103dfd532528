import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sign } from '@tma.js/init-data-node'
import { checkOrigin, isJson, ownOrigins } from './control-access.ts'
import { SandboxError } from './errors.ts'
import type { Sandbox, SandboxExtension } from './sandbox.ts'
import type { User } from './types.ts'

/** Telegram's default themes, as a Telegram client sends them in `themeParams`. */
export const SANDBOX_THEMES = {
  light: {
    bg_color: '#ffffff',
    text_color: '#000000',
    hint_color: '#999999',
    link_color: '#2481cc',
    button_color: '#2481cc',
    button_text_color: '#ffffff',
    secondary_bg_color: '#efeff3',
    header_bg_color: '#ffffff',
    accent_text_color: '#2481cc',
    section_bg_color: '#ffffff',
    section_header_text_color: '#6d6d72',
    subtitle_text_color: '#999999',
    destructive_text_color: '#ff3b30',
  },
  dark: {
    bg_color: '#212121',
    text_color: '#ffffff',
    hint_color: '#aaaaaa',
    link_color: '#8774e1',
    button_color: '#8774e1',
    button_text_color: '#ffffff',
    secondary_bg_color: '#181818',
    header_bg_color: '#212121',
    accent_text_color: '#8774e1',
    section_bg_color: '#212121',
    section_header_text_color: '#aaaaaa',
    subtitle_text_color: '#aaaaaa',
    destructive_text_color: '#ff595a',
  },
} as const

export type SandboxTheme = keyof typeof SANDBOX_THEMES

export interface MiniAppHostOptions {
  /**
   * The Mini App's URL, e.g. `http://127.0.0.1:3000/miniapp/` (e-Stars serves the reference one
   * there); a function when it is known only after the sandbox starts.
   */
  appUrl: string | (() => string)
  /** Where the host page lives on the sandbox; default `/miniapp`. */
  path?: string
}

/** The stand-in for telegram-web-app.js a Mini App loads inside this host (see the file). */
export const telegramWebAppStandIn = (): string =>
  readFileSync(new URL('./telegram-web-app.js', import.meta.url), 'utf8')

/**
 * Init data as Telegram makes it for a user opening a bot's Mini App: `user`, `auth_date`,
 * `query_id`, `chat_type`, signed with the bot token (HMAC, @tma.js/init-data-node).
 */
export function signInitData(
  user: User,
  botToken: string,
  options: { authDate?: Date; startParam?: string | undefined } = {},
): string {
  const signed: Record<string, unknown> = {
    id: user.id,
    first_name: user.first_name,
    ...(user.last_name ? { last_name: user.last_name } : {}),
    ...(user.username ? { username: user.username } : {}),
    ...(user.language_code ? { language_code: user.language_code } : {}),
    allows_write_to_pm: true,
  }
  return sign(
    {
      user: signed as { id: number; first_name: string },
      query_id: `AA${Math.random().toString(36).slice(2, 14)}`,
      chat_type: 'sender',
      chat_instance: String(user.id),
      ...(options.startParam ? { start_param: options.startParam } : {}),
    },
    botToken,
    options.authDate ?? new Date(),
  )
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The sandbox's Telegram client for Mini Apps: `GET <path>?user=<id>&theme=light|dark&project=<id>`
 * serves a page that opens the Mini App in an iframe the way Telegram Web does — init data signed
 * with the bot's token in the URL hash, theme parameters, and `openInvoice` answered with a
 * payment sheet that pays through the sandbox (pre_checkout_query → successful_payment to the bot).
 * A "client reports failed" switch reproduces clients that report `failed` for a payment that went
 * through. Also serves the `telegram-web-app.js` stand-in at `<path>/telegram-web-app.js`.
 */
export function miniAppHost(options: MiniAppHostOptions): SandboxExtension {
  const base = (options.path ?? '/miniapp').replace(/\/+$/, '')
  const appUrl = () =>
    new URL(typeof options.appUrl === 'function' ? options.appUrl() : options.appUrl)
  return {
    name: 'miniapp-host',
    async handle(req, res, sandbox) {
      const url = new URL(req.url ?? '/', 'http://sandbox.invalid')
      if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return false
      const route = url.pathname.slice(base.length) || '/'
      try {
        if (req.method === 'GET' && route === '/') {
          sendHtml(res, hostPage(sandbox, appUrl(), base, url.searchParams))
        } else if (req.method === 'GET' && route === '/telegram-web-app.js') {
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
          res.end(telegramWebAppStandIn())
        } else if (req.method === 'GET' && route === '/invoice') {
          sendJson(res, 200, { ok: true, result: sandbox.invoiceOfLink(linkOf(url.searchParams)) })
        } else if (req.method === 'POST' && route === '/pay') {
          // Only the host page itself pays: another site's page cannot post here.
          checkOrigin(req, ownOrigins(sandbox.url))
          if (!isJson(req.headers['content-type']))
            throw new SandboxError(
              'UNSUPPORTED_MEDIA_TYPE',
              'content-type must be application/json',
            )
          const body = (await readJson(req)) as { userId?: unknown; slug?: unknown }
          const userId = Number(body.userId)
          if (!Number.isSafeInteger(userId)) throw new SandboxError('BAD_INPUT', 'userId')
          const result = await sandbox.payInvoice(userId, {
            invoiceLink: linkOf(new URLSearchParams({ slug: String(body.slug ?? '') })),
          })
          sendJson(res, 200, { ok: true, result })
        } else {
          return false
        }
      } catch (error) {
        if (!(error instanceof SandboxError)) throw error
        sendJson(res, error.httpStatus, {
          ok: false,
          error: { code: error.code, message: error.message },
        })
      }
      return true
    },
  }
}

function linkOf(params: URLSearchParams): string {
  const slug = params.get('slug') ?? ''
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(slug)) throw new SandboxError('BAD_INPUT', 'slug')
  return `https://t.me/$${slug}`
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > 16_384) throw new SandboxError('BAD_INPUT', 'body too large')
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
  } catch {
    throw new SandboxError('BAD_INPUT', 'body must be JSON')
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(body))
}

function sendHtml(res: ServerResponse, html: string) {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  })
  res.end(html)
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

/** JSON for a <script> block: `<` escaped so no value can close the tag. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c')

function hostPage(sandbox: Sandbox, app: URL, base: string, query: URLSearchParams): string {
  const users = sandbox.users()
  const user =
    users.find((u) => String(u.id) === query.get('user')) ??
    users[0] ??
    sandbox.createUser({ firstName: 'Alice', username: 'alice' })
  const bot = sandbox.bot()
  const theme: SandboxTheme = query.get('theme') === 'dark' ? 'dark' : 'light'
  const startParam = query.get('startapp') ?? undefined
  const appUrl = new URL(app)
  const project = query.get('project')
  if (project && UUID.test(project)) appUrl.searchParams.set('project', project)
  const config = {
    appUrl: appUrl.toString(),
    appOrigin: appUrl.origin,
    initData: signInitData(user, bot.token, { startParam }),
    userId: user.id,
    theme,
    themes: SANDBOX_THEMES,
  }
  const options = users
    .map(
      (u) =>
        `<option value="${u.id}"${u.id === user.id ? ' selected' : ''}>${escapeHtml(`${u.first_name} (${u.id})`)}</option>`,
    )
    .join('')
  return `<!doctype html>
<html lang="en" data-theme="${theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mini App · sandbox Telegram</title>
<style>
  :root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
  body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center;
    background: #dfe5ec; color: #111; }
  html[data-theme="dark"] body { background: #0e1621; color: #eee; }
  header { width: 100%; box-sizing: border-box; padding: 8px 16px; display: flex; gap: 16px;
    align-items: center; flex-wrap: wrap; background: rgba(0,0,0,.06); }
  header b { margin-right: auto; }
  .phone { margin: 16px; width: 390px; height: 760px; border-radius: 28px; overflow: hidden;
    position: relative; box-shadow: 0 8px 40px rgba(0,0,0,.3); display: flex; flex-direction: column;
    background: var(--bg); }
  .bar { padding: 10px 16px; font-weight: 600; color: var(--text); background: var(--header);
    border-bottom: 1px solid rgba(127,127,127,.2); }
  iframe { border: 0; flex: 1; width: 100%; background: var(--bg); }
  .sheet { position: absolute; inset: 0; background: rgba(0,0,0,.45); display: none;
    align-items: flex-end; }
  .sheet.open { display: flex; }
  .card { width: 100%; box-sizing: border-box; padding: 20px; border-radius: 16px 16px 0 0;
    background: var(--bg); color: var(--text); }
  .card h2 { margin: 0 0 4px; font-size: 18px; }
  .card p { margin: 0 0 16px; color: var(--hint); }
  .card .price { font-size: 22px; font-weight: 700; margin-bottom: 16px; }
  .card button { width: 100%; padding: 12px; border: 0; border-radius: 10px; font-size: 15px;
    margin-top: 8px; cursor: pointer; }
  #pay { background: var(--button); color: var(--button-text); }
  #cancel { background: transparent; color: var(--link); }
  #status { color: var(--hint); min-height: 1.4em; margin-top: 8px; }
</style>
</head>
<body>
<header>
  <b>Sandbox Telegram · @${escapeHtml(bot.user.username ?? 'bot')} · Mini App</b>
  <label>User <select id="user">${options}</select></label>
  <label><input type="checkbox" id="dark"${theme === 'dark' ? ' checked' : ''}> Dark theme</label>
  <label title="Some clients report 'failed' for payments that went through"><input type="checkbox" id="glitch"> Client reports "failed" after paying</label>
</header>
<div class="phone" id="phone">
  <div class="bar">${escapeHtml(bot.user.first_name)}</div>
  <iframe id="app" title="Mini App" allow="clipboard-write"></iframe>
  <div class="sheet" id="sheet" role="dialog" aria-label="Payment">
    <div class="card">
      <h2 id="title"></h2>
      <p id="description"></p>
      <div class="price" id="price"></div>
      <button id="pay" type="button">Pay</button>
      <button id="cancel" type="button">Cancel</button>
      <div id="status"></div>
    </div>
  </div>
</div>
<script>
const config = ${scriptJson(config)};
const frame = document.getElementById('app');
const phone = document.getElementById('phone');
let theme = config.theme;
const paint = () => {
  const t = config.themes[theme];
  document.documentElement.dataset.theme = theme;
  const set = (name, value) => phone.style.setProperty(name, value);
  set('--bg', t.bg_color); set('--text', t.text_color); set('--hint', t.hint_color);
  set('--header', t.header_bg_color); set('--button', t.button_color);
  set('--button-text', t.button_text_color); set('--link', t.link_color);
};
const send = (eventType, eventData) =>
  frame.contentWindow.postMessage(JSON.stringify({ eventType, eventData }), config.appOrigin);
const sendTheme = () => send('theme_changed', { theme_params: config.themes[theme] });
const hash = new URLSearchParams({
  tgWebAppData: config.initData,
  tgWebAppVersion: '8.0',
  tgWebAppPlatform: 'sandbox',
  tgWebAppThemeParams: JSON.stringify(config.themes[theme]),
});
paint();
frame.src = config.appUrl + '#' + hash.toString();

document.getElementById('user').addEventListener('change', (e) => {
  const next = new URL(location.href);
  next.searchParams.set('user', e.target.value);
  next.searchParams.set('theme', theme);
  location.href = next.toString();
});
document.getElementById('dark').addEventListener('change', (e) => {
  theme = e.target.checked ? 'dark' : 'light';
  paint();
  sendTheme();
});

const sheet = document.getElementById('sheet');
const statusLine = document.getElementById('status');
let open = null;
const close = (status) => {
  if (!open) return;
  const slug = open;
  open = null;
  sheet.classList.remove('open');
  send('invoice_closed', { slug, status });
};
document.getElementById('cancel').addEventListener('click', () => close('cancelled'));
document.getElementById('pay').addEventListener('click', async () => {
  const slug = open;
  if (!slug) return;
  statusLine.textContent = 'Paying…';
  document.getElementById('pay').disabled = true;
  try {
    const response = await fetch('${base}/pay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: config.userId, slug }),
    });
    const body = await response.json();
    const result = body.ok ? body.result : { status: 'failed' };
    if (result.status === 'paid') {
      statusLine.textContent = 'Paid';
      close(document.getElementById('glitch').checked ? 'failed' : 'paid');
    } else {
      statusLine.textContent = result.errorMessage || 'The payment did not go through';
      setTimeout(() => close('failed'), 1200);
    }
  } finally {
    document.getElementById('pay').disabled = false;
  }
});

window.addEventListener('message', async (event) => {
  if (event.source !== frame.contentWindow || typeof event.data !== 'string') return;
  let message;
  try { message = JSON.parse(event.data); } catch { return; }
  const data = message.eventData || {};
  if (message.eventType === 'web_app_request_theme') sendTheme();
  if (message.eventType === 'web_app_open_invoice') {
    if (open) return;
    const response = await fetch('${base}/invoice?slug=' + encodeURIComponent(data.slug || ''));
    const body = await response.json();
    if (!body.ok) { send('invoice_closed', { slug: data.slug, status: 'failed' }); return; }
    const invoice = body.result;
    open = data.slug;
    document.getElementById('title').textContent = invoice.title;
    document.getElementById('description').textContent = invoice.description;
    document.getElementById('price').textContent =
      '⭐ ' + invoice.amount + (invoice.subscriptionPeriod ? ' / month' : '');
    document.getElementById('pay').textContent = 'Pay ⭐ ' + invoice.amount;
    statusLine.textContent = '';
    sheet.classList.add('open');
  }
});
</script>
</body>
</html>`
}
