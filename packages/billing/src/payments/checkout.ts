import { type Executor, rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import type { Secrets } from '../identity/secrets.ts'
import { checkRefundAbuse } from './refund-abuse.ts'

/** The fields of Telegram's `pre_checkout_query` that decide it. */
export interface PreCheckoutQueryInput {
  id: string
  from: { id: number }
  currency: string
  total_amount: number
  invoice_payload: string
}

export type PrecheckRefusal =
  | 'invalid_invoice'
  | 'wrong_user'
  | 'expired'
  | 'currency'
  | 'amount'
  | 'archived'
  | 'blocked'
  | 'already_owned'
  | 'already_subscribed'
  | 'refund_limit'

export type PrecheckResult =
  | { ok: true; errorMessage: null; orderId: string }
  | { ok: false; errorMessage: string; reason: PrecheckRefusal }

/** What the user reads in Telegram when the payment is refused: plain words, a next step. */
export const PRECHECK_MESSAGES: Record<PrecheckRefusal, string> = {
  invalid_invoice: 'This invoice is not valid any more. Please ask the bot for a new one.',
  wrong_user: 'This invoice was made for someone else. Please ask the bot for your own invoice.',
  expired: 'This invoice has expired. Please ask the bot for a new one.',
  currency: 'This invoice can only be paid in Telegram Stars.',
  amount: 'The price on this invoice is out of date. Please ask the bot for a new invoice.',
  archived: 'Sorry, this item is no longer available.',
  blocked: 'Purchases are turned off for your account. Please contact the bot’s support.',
  already_owned: 'You already own this for life, so there is nothing to pay.',
  already_subscribed: 'You already have this subscription. It renews by itself.',
  refund_limit:
    'Sorry, new purchases are paused on your account because of several recent refunds. Please contact the bot’s support if you think this is a mistake.',
}

const refuse = (reason: PrecheckRefusal): PrecheckResult => ({
  ok: false,
  errorMessage: PRECHECK_MESSAGES[reason],
  reason,
})

/**
 * Decides a `pre_checkout_query` in one read: the order exists and is this project's, is open and
 * not expired, is the payer's, the amount and currency match, the product is on sale, the
 * customer is not blocked and does not own it for life already, and has not reached the project's
 * refund-abuse limit. Writes nothing, except blocking the customer when that limit's action is
 * `block`.
 */
export async function precheck(
  db: Executor,
  input: { projectId: string; query: PreCheckoutQueryInput; secrets: Secrets; now?: Date },
): Promise<PrecheckResult> {
  const now = input.now ?? new Date()
  const ref = input.secrets.verifyOrderRef(input.projectId, input.query.invoice_payload)
  if (!ref.ok) return refuse('invalid_invoice')
  const [order] = await rows<{
    status: string
    customer_id: string
    kind: string
    price_stars: string
    expires_at: string | Date
    telegram_user_id: string
    blocked: boolean
    archived: boolean
    owned_for_life: boolean
  }>(
    db,
    sql`select o.status, o.customer_id, o.kind, o.price_stars, o.expires_at, c.telegram_user_id,
          c.blocked_at is not null as blocked, p.archived_at is not null as archived,
          (o.kind = 'unlock' and o.duration_days is null and exists(
            select 1 from entitlements e where e.project_id = o.project_id and e.customer_id = o.customer_id
              and e.feature_key = o.feature_key and e.ends_at is null and e.revoked_at is null
              and e.starts_at <= ${now.toISOString()}::timestamptz)) as owned_for_life
        from orders o
        join customers c on c.project_id = o.project_id and c.id = o.customer_id
        join products p on p.project_id = o.project_id and p.id = o.product_id
        where o.project_id = ${input.projectId} and o.id = ${ref.orderId}`,
  )
  if (!order || order.status === 'cancelled') return refuse('invalid_invoice')
  if (Number(order.telegram_user_id) !== input.query.from.id) return refuse('wrong_user')
  if (order.status === 'paid' && order.kind === 'subscription') return refuse('already_subscribed')
  if (new Date(order.expires_at) <= now) return refuse('expired')
  if (input.query.currency !== 'XTR') return refuse('currency')
  if (input.query.total_amount !== Number(order.price_stars)) return refuse('amount')
  if (order.archived) return refuse('archived')
  if (order.blocked) return refuse('blocked')
  if (order.owned_for_life) return refuse('already_owned')
  const abuse = await checkRefundAbuse(db, {
    projectId: input.projectId,
    customerId: order.customer_id,
    now,
  })
  if (abuse.abuse) return refuse(abuse.action === 'block' ? 'blocked' : 'refund_limit')
  return { ok: true, errorMessage: null, orderId: ref.orderId }
}
