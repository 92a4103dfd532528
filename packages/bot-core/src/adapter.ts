// What an adapter (packages/telegraf, packages/grammy) builds on; its users see only index.ts.
export {
  type BotChannel,
  type LinkKeyboard,
  type SentMessage,
  type StarsInvoiceParams,
  tell,
} from './channel.ts'
export {
  createEStarsCore,
  type EStarsCore,
  type PaymentEvent,
  paymentOf,
  type UpdateOutcome,
} from './core.ts'
export { answerPaySupport, paySupportText } from './support.ts'
