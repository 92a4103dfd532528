import type { Account } from './account.ts'
import { me, type Product } from './api.ts'
import type { Tone } from './shell.ts'
import { type InvoiceStatus, openInvoice, type TelegramWebApp } from './telegram.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** How long to keep asking the server after the payment sheet closes, by what the client said. */
const POLL_MS: Record<InvoiceStatus, number> = {
  paid: 30_000,
  pending: 30_000,
  failed: 15_000,
  cancelled: 10_000,
}

/**
 * Buys through Telegram's payment sheet. The status the client reports is only a hint (clients
 * have said "failed" or "cancelled" for payments that went through): the server decides, so the
 * account is read again until the balance or the entitlements change, or for a while.
 */
export async function purchase(
  webApp: TelegramWebApp,
  account: Account,
  product: Product,
  show: (text: string, tone?: Tone) => void,
) {
  show(`Opening the payment for ${product.title}…`)
  const invoice = await me.buy(product.key)
  const before = await account.reload()
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
    changed = (await account.reload()) !== before
  }
  if (changed) show(`${product.title}: done. Thank you!`, 'ok')
  else if (status === 'paid' || status === 'pending')
    show('Payment received; it will show up here in a moment.', 'info')
  else show('No payment was made.', 'info')
}
