import type { VirtualClock } from './clock.ts'
import { type DeliveryOptions, UpdateChannel, type WebhookReply } from './delivery.ts'
import { type InvoiceTerms, StarsAccount } from './stars.ts'
import type {
  BotCapabilities,
  CallbackAnswer,
  Message,
  PaidMedia,
  PrivateChat,
  User,
} from './types.ts'

interface ChatState {
  readonly user: User
  readonly messages: Message[]
  nextMessageId: number
  /** A bot may only write to users who have written to it first (Telegram's rule). */
  started: boolean
}

/** A sendPaidMedia message's terms: its price, payload (may be empty) and media. */
export interface PaidMediaOffer {
  starCount: number
  payload: string
  media: PaidMedia[]
}

export interface CallbackQueryState {
  readonly id: string
  readonly userId: number
  answer: CallbackAnswer | undefined
}

/** Fields of a new message; id, date and chat are filled in by the chat. */
export type MessageContent = Omit<Message, 'message_id' | 'date' | 'chat'>

export const chatOf = (user: User): PrivateChat => {
  const chat: PrivateChat = { id: user.id, type: 'private', first_name: user.first_name }
  if (user.last_name !== undefined) chat.last_name = user.last_name
  if (user.username !== undefined) chat.username = user.username
  return chat
}

/** Everything the sandbox knows about one bot: its identity, chats, updates and Stars. */
export class SandboxBot {
  readonly token: string
  /** The bot as a User: the `from` of its messages. */
  readonly user: User
  /** What getMe adds to `user`. */
  readonly capabilities: BotCapabilities
  readonly updates: UpdateChannel
  readonly stars = new StarsAccount()
  readonly callbackQueries = new Map<string, CallbackQueryState>()
  /** Terms of each invoice message, keyed `${chatId}:${messageId}`. */
  readonly invoiceTerms = new Map<string, InvoiceTerms>()
  /** What each paid-media message sells, keyed `${chatId}:${messageId}`. */
  readonly paidMediaOffers = new Map<string, PaidMediaOffer>()
  readonly #chats = new Map<number, ChatState>()
  readonly #listeners = new Set<() => void>()
  readonly #clock: VirtualClock

  constructor(input: {
    token: string
    user: User
    capabilities: BotCapabilities
    clock: VirtualClock
    delivery: DeliveryOptions
    onWebhookReply: (bot: SandboxBot, reply: WebhookReply) => void
  }) {
    this.token = input.token
    this.user = input.user
    this.capabilities = input.capabilities
    this.#clock = input.clock
    this.updates = new UpdateChannel(input.clock, input.delivery, (reply) =>
      input.onWebhookReply(this, reply),
    )
  }

  #chat(user: User): ChatState {
    let chat = this.#chats.get(user.id)
    if (!chat) {
      chat = { user, messages: [], nextMessageId: 1, started: false }
      this.#chats.set(user.id, chat)
    }
    return chat
  }

  hasStarted(userId: number): boolean {
    return this.#chats.get(userId)?.started ?? false
  }

  /**
   * Appends a message to the private chat with `user`, sent by `from`. `date` defaults to now;
   * a message that reports a ledger event (a payment, a refund) passes that event's date.
   */
  addMessage(user: User, from: User, content: MessageContent, date?: number): Message {
    const chat = this.#chat(user)
    if (from.id === user.id) chat.started = true
    const message: Message = {
      message_id: chat.nextMessageId++,
      from,
      date: date ?? this.#clock.unixTime(),
      chat: chatOf(user),
      ...content,
    }
    chat.messages.push(message)
    this.#notify()
    return message
  }

  findMessage(userId: number, messageId: number): Message | undefined {
    return this.#chats.get(userId)?.messages.find((m) => m.message_id === messageId)
  }

  /** Replaces a stored message (an edit) and wakes waiters. */
  replaceMessage(userId: number, message: Message): void {
    const messages = this.#chats.get(userId)?.messages
    const index = messages?.findIndex((m) => m.message_id === message.message_id) ?? -1
    if (messages && index >= 0) messages[index] = message
    this.#notify()
  }

  transcript(userId: number): Message[] {
    return structuredClone(this.#chats.get(userId)?.messages ?? [])
  }

  /** Calls `listener` after every change to any chat of this bot; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Wakes waiters, e.g. after a callback answer. */
  notify(): void {
    this.#notify()
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener()
  }
}
