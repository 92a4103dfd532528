/**
 * Margin control (issue 14): what every metered act cost, what it earned, and the controls that
 * stop heavy users burning the margin. All amounts are integer micro-USD.
 *
 * The contract the usage paths rely on:
 * - `UsageRecord` — `{ provider, model, inputTokens, outputTokens, cachedInputTokens?,
 *   reasoningTokens?, costMicros? }`; the API validates it with `usageRecordInput`.
 * - `appendEntry(tx, customer, { ..., usage })` (ledger/entries.ts) computes the entry's
 *   `costMicros` (the record's own, else the project's price book, else the default shipped from
 *   tokenlens; an unpriced model is refused with `UNPRICED_MODEL` or recorded with
 *   `usage.unpriced` and one `margin.unpriced_model` event, by the project's policy), and its
 *   `revenueMicros` from the value of the lots it burns (`valueMoved`; a hold entry's revenue is
 *   deferred and recognised by the settle, release or expiry that closes it). A `consume` whose
 *   cost would pass a cost cap is refused with `COST_CAP_REACHED` (`resetsAt`), under the lock.
 * - `checkCostCap(tx, customer, expectedCostMicros, now)` — the same check for a reserve path's
 *   expected cost.
 * - `marginFloorMaxTokens(...)` / `checkMarginFloor(...)` — the feature margin floor at reserve:
 *   the largest output that keeps it, or `MARGIN_FLOOR_BREACHED`; `valueOfAllocations(tx,
 *   customer, allocations)` gives the held credits' value to pass as `heldValueMicros`.
 * - `lotValueOf(...)` — a lot's value at creation; `addLot` takes `valueMicros`.
 */
export { checkDueMarginAlerts, checkMarginAlerts, noteCustomerMargin } from './alerts.ts'
export {
  addCostCap,
  type CostCapInput,
  listCostCaps,
  listPriceBook,
  type PriceBookEntryInput,
  removeCostCap,
  removeModelPrice,
  setModelPrice,
} from './book.ts'
export { type AppliedCap, capsFor, checkCostCap } from './caps.ts'
export { type ActCost, checkUsage, costOfAct } from './cost.ts'
export {
  checkMarginFloor,
  type MarginFloorCheck,
  type MarginFloorInput,
  marginFloorMaxTokens,
} from './floor.ts'
export { defaultPrice, defaultPrices, priceFor } from './prices.ts'
export {
  DEFAULT_USD_PER_STAR_MICROS,
  getMarginSettings,
  listFeatureMarginFloors,
  type MarginSettings,
  type MarginSettingsPatch,
  setFeatureMarginFloor,
  updateMarginSettings,
} from './settings.ts'
export { costOf, type ModelPrice, type UsageRecord } from './usage.ts'
export {
  type LotValueRow,
  lotValueOf,
  lotValues,
  paidLotValue,
  valueMoved,
  valueOfAllocations,
  valueRemaining,
} from './value.ts'
export {
  type MarginDimension,
  type MarginInput,
  type MarginRow,
  type MarginSummary,
  marginBreakdown,
  marginCsv,
  marginSummary,
  unprofitableCustomers,
} from './views.ts'
