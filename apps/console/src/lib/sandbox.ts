import { csrfHeader } from './api.ts'

/** The sandbox's control API, through the server's operator-only proxy. */
export async function sandbox<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`/console-api/sandbox${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    credentials: 'include',
    headers: { 'content-type': 'application/json', ...csrfHeader() },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const json = (await response.json()) as { ok: boolean; result?: T; error?: { message: string } }
  if (!json.ok) throw new Error(json.error?.message ?? `sandbox answered ${response.status}`)
  return json.result as T
}

export interface SandboxUser {
  id: number
  first_name: string
  username?: string
}

export interface SandboxMessage {
  message_id: number
  date: number
  from?: { id: number; is_bot: boolean; first_name: string }
  text?: string
  caption?: string
  /** Sizes of one photo, smallest first; the bytes are at /sandbox/files/<file_id>. */
  photo?: Array<{ file_id: string; width: number; height: number }>
  reply_markup?: { inline_keyboard?: SandboxButton[][] }
  invoice?: { title: string; total_amount: number; currency: string }
  successful_payment?: { total_amount: number; telegram_payment_charge_id: string }
  refunded_payment?: { total_amount: number; telegram_payment_charge_id: string }
}

export interface SandboxButton {
  text: string
  callback_data?: string
  url?: string
  pay?: boolean
}

/** Where the console shows a file the bot sent: the sandbox's bytes through the operator proxy. */
export const sandboxFileUrl = (fileId: string) =>
  `/console-api/sandbox/files/${encodeURIComponent(fileId)}`

export interface SandboxTransaction {
  id: string
  amount: number
  date: number
  source?: { type: string; user?: { id: number } }
  receiver?: { type: string; user?: { id: number } }
}
