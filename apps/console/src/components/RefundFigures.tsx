import { createAsync, query } from '@solidjs/router'
import { Show } from 'solid-js'
import { api } from '../lib/api.ts'
import { formatNumber, formatStars, plural } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

export const getRefundFigures = query(
  (projectId: string, telegramUserId: number) =>
    api.refundAbuse.customer.query({ projectId, telegramUserId }),
  'customer-refunds',
)

/**
 * The customer page's refund block: how many payments were refunded, their share of all
 * payments, and the Stars taken back. "Buy, use, refund" shows here first; the project's
 * refund-abuse policy (Settings) acts on the same count.
 */
export function RefundFigures(props: { telegramUserId: number }) {
  const session = useSession()
  const figures = createAsync(() => getRefundFigures(session.projectId(), props.telegramUserId))
  return (
    <Show when={figures()}>
      {(f) => (
        <>
          <div class="metric card">
            <div class="metric-label">Refunds</div>
            <div class="metric-value" classList={{ warn: f().refunds > 0 }} data-testid="refunds">
              {formatNumber(f().refunds)}
            </div>
            <div class="muted">{formatStars(f().starsRefunded)} back</div>
          </div>
          <div class="metric card">
            <div class="metric-label">Refund rate</div>
            <div class="metric-value" data-testid="refund-rate">
              {formatNumber(Math.round(f().refundRate * 100))} %
            </div>
            <div class="muted">of {plural(f().payments, 'payment')}</div>
          </div>
        </>
      )}
    </Show>
  )
}
