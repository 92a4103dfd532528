import { afterEach, describe, expect, it } from 'vitest'
import {
  type BotApi,
  botApiFromTelegraf,
  createBotApi,
  hasErrorCode,
  InvalidStarsInvoiceError,
  isChargeAlreadyRefunded,
  isChargeNotFound,
  isQueryTooOld,
  isRateLimited,
  isTimeout,
  isTransient,
  isUnauthorized,
  starsInvoice,
  TelegramApiError,
  TelegramError,
  TelegramNetworkError,
  TelegramResponseShapeError,
} from '../src/index.ts'
import { botUser, chargeTx, payer, privateChat, TOKEN } from './fixtures.ts'
import { fail, ok, type StubHandler, startStub } from './stub-server.ts'

let stub: Awaited<ReturnType<typeof startStub>> | undefined
afterEach(async () => {
  await stub?.close()
  stub = undefined
})

async function apiWith(
  handler: StubHandler,
  extra: Partial<Parameters<typeof createBotApi>[0]> = {},
): Promise<BotApi> {
  stub = await startStub(handler)
  return createBotApi({
    token: TOKEN,
    apiRoot: stub.apiRoot,
    retry: { sleep: async () => {} },
    ...extra,
  })
}

function requests() {
  if (!stub) throw new Error('no stub running')
  return stub.requests
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail')
}

const invoiceMessage = {
  message_id: 77,
  date: 1781000000,
  chat: privateChat,
  from: botUser,
  invoice: {
    title: 'Pack of 100 credits',
    description: '100 AI answers',
    start_parameter: '',
    currency: 'XTR',
    total_amount: 250,
  },
}

describe('createBotApi success shapes', () => {
  it('posts JSON to /bot<token>/<method> and returns the parsed getMe user', async () => {
    const api = await apiWith(() => ok(botUser))
    const me = await api.getMe()
    expect(me).toEqual(botUser)
    expect(requests()[0]).toMatchObject({
      path: `/bot${TOKEN}/getMe`,
      token: TOKEN,
      method: 'getMe',
      contentType: 'application/json',
      body: {},
    })
  })

  it('honours testEnv like Telegraf (/bot<token>/test/<method>) and a trailing slash root', async () => {
    stub = await startStub(() => ok(botUser))
    const api = createBotApi({ token: TOKEN, apiRoot: `${stub.apiRoot}/`, testEnv: true })
    await api.getMe()
    expect(requests()[0]?.path).toBe(`/bot${TOKEN}/test/getMe`)
  })

  it('sendMessage sends the params as given and returns the message', async () => {
    const sent = { message_id: 5, date: 1781000000, chat: privateChat, text: 'hi' }
    const api = await apiWith(() => ok(sent))
    const message = await api.sendMessage({ chat_id: payer.id, text: 'hi', parse_mode: 'HTML' })
    expect(message.message_id).toBe(5)
    expect(requests()[0]?.body).toEqual({ chat_id: payer.id, text: 'hi', parse_mode: 'HTML' })
  })

  it('sendInvoice always sends XTR with provider_token "" and one price', async () => {
    const api = await apiWith(() => ok(invoiceMessage))
    const message = await api.sendInvoice({
      chat_id: payer.id,
      ...starsInvoice({
        title: 'Pack of 100 credits',
        description: '100 AI answers',
        payload: 'ord_1',
        amount: 250,
      }),
    })
    expect(message.invoice?.total_amount).toBe(250)
    expect(requests()[0]?.body).toEqual({
      chat_id: payer.id,
      title: 'Pack of 100 credits',
      description: '100 AI answers',
      payload: 'ord_1',
      currency: 'XTR',
      provider_token: '',
      prices: [{ label: 'Pack of 100 credits', amount: 250 }],
    })
  })

  it('sendInvoice adds provider_token "" even when the caller leaves it out', async () => {
    const api = await apiWith(() => ok(invoiceMessage))
    await api.sendInvoice({
      chat_id: 1,
      title: 't',
      description: 'd',
      payload: 'p',
      currency: 'XTR',
      prices: [{ label: 'x', amount: 1 }],
    })
    expect(requests()[0]?.body.provider_token).toBe('')
  })

  it('createInvoiceLink sends subscription_period 2592000 and returns the link', async () => {
    const api = await apiWith(() => ok('https://t.me/$AbCdEf123'))
    const link = await api.createInvoiceLink(
      starsInvoice({
        title: 'Pro',
        description: 'Monthly Pro',
        payload: 'sub_1',
        amount: 500,
        subscription: true,
      }),
    )
    expect(link).toBe('https://t.me/$AbCdEf123')
    expect(requests()[0]?.body).toMatchObject({
      subscription_period: 2592000,
      currency: 'XTR',
      provider_token: '',
      prices: [{ label: 'Pro', amount: 500 }],
    })
  })

  it('invoice methods refuse invalid Stars invoices before any request', async () => {
    const api = await apiWith(() => ok(invoiceMessage))
    const params = {
      chat_id: 1,
      title: 't',
      description: 'd',
      payload: 'p',
      currency: 'XTR',
      prices: [{ label: 'x', amount: 1 }],
      subscription_period: 2592000,
    }
    // An untyped caller slipping a subscription into sendInvoice.
    const error = await caught(
      api.sendInvoice(params as unknown as Parameters<BotApi['sendInvoice']>[0]),
    )
    expect(error).toBeInstanceOf(InvalidStarsInvoiceError)
    expect((error as InvalidStarsInvoiceError).field).toBe('subscription_period')
    const twoPrices = {
      ...params,
      subscription_period: undefined,
      prices: [
        { label: 'a', amount: 1 },
        { label: 'b', amount: 2 },
      ],
    }
    expect(
      await caught(
        api.createInvoiceLink(twoPrices as unknown as Parameters<BotApi['createInvoiceLink']>[0]),
      ),
    ).toBeInstanceOf(InvalidStarsInvoiceError)
    expect(requests()).toHaveLength(0)
  })

  it('answerPreCheckoutQuery, refundStarPayment, editUserStarSubscription return true', async () => {
    const api = await apiWith(() => ok(true))
    expect(await api.answerPreCheckoutQuery({ pre_checkout_query_id: 'q1', ok: true })).toBe(true)
    expect(
      await api.refundStarPayment({ user_id: payer.id, telegram_payment_charge_id: 'stx1' }),
    ).toBe(true)
    expect(
      await api.editUserStarSubscription({
        user_id: payer.id,
        telegram_payment_charge_id: 'stx2',
        is_canceled: true,
      }),
    ).toBe(true)
    expect(requests().map((r) => [r.method, r.body])).toEqual([
      ['answerPreCheckoutQuery', { pre_checkout_query_id: 'q1', ok: true }],
      ['refundStarPayment', { user_id: payer.id, telegram_payment_charge_id: 'stx1' }],
      [
        'editUserStarSubscription',
        { user_id: payer.id, telegram_payment_charge_id: 'stx2', is_canceled: true },
      ],
    ])
  })

  it('answerPreCheckoutQuery with ok:false demands an error_message', async () => {
    const api = await apiWith(() => ok(true))
    await expect(
      api.answerPreCheckoutQuery({ pre_checkout_query_id: 'q1', ok: false }),
    ).rejects.toThrow(/error_message/)
    expect(requests()).toHaveLength(0)
  })

  it('getStarTransactions passes offset/limit and parses partners', async () => {
    const api = await apiWith(() => ok({ transactions: [chargeTx] }))
    const page = await api.getStarTransactions({ offset: 100, limit: 50 })
    expect(page.transactions[0]?.source?.type).toBe('user')
    expect(page.transactions[0]).toEqual(chargeTx)
    expect(requests()[0]?.body).toEqual({ offset: 100, limit: 50 })
  })

  it('getMyStarBalance returns the StarAmount', async () => {
    const api = await apiWith(() => ok({ amount: 1234, nanostar_amount: 500000000 }))
    expect(await api.getMyStarBalance()).toEqual({ amount: 1234, nanostar_amount: 500000000 })
  })

  it('setWebhook / deleteWebhook / getWebhookInfo', async () => {
    const info = {
      url: 'https://example.com/tg',
      has_custom_certificate: false,
      pending_update_count: 3,
      allowed_updates: ['message', 'pre_checkout_query'],
    }
    const api = await apiWith((r) => (r.method === 'getWebhookInfo' ? ok(info) : ok(true)))
    expect(
      await api.setWebhook({
        url: 'https://example.com/tg',
        secret_token: 's3cr3t',
        allowed_updates: ['message', 'pre_checkout_query'],
      }),
    ).toBe(true)
    expect(await api.deleteWebhook()).toBe(true)
    expect(await api.getWebhookInfo()).toEqual(info)
    expect(requests().map((r) => r.method)).toEqual([
      'setWebhook',
      'deleteWebhook',
      'getWebhookInfo',
    ])
    expect(requests()[0]?.body).toEqual({
      url: 'https://example.com/tg',
      secret_token: 's3cr3t',
      allowed_updates: ['message', 'pre_checkout_query'],
    })
  })

  it('call() reaches unwrapped methods and returns the raw result', async () => {
    const api = await apiWith(() => ok({ anything: [1, 2] }))
    expect(await api.call('getChat', { chat_id: 1 })).toEqual({ anything: [1, 2] })
    expect(requests()[0]).toMatchObject({ method: 'getChat', body: { chat_id: 1 } })
  })

  it('a result that does not match the documented shape is a TelegramResponseShapeError', async () => {
    const api = await apiWith(() => ok({ amount: 'lots' }))
    const error = await caught(api.getMyStarBalance())
    expect(error).toBeInstanceOf(TelegramResponseShapeError)
    expect((error as TelegramResponseShapeError).issues.join()).toMatch(/amount/)
  })

  it('botApiFromTelegraf reuses the token, apiRoot and testEnv of a Telegraf instance', async () => {
    stub = await startStub(() => ok(botUser))
    const api = botApiFromTelegraf({
      token: TOKEN,
      options: { apiRoot: stub.apiRoot, testEnv: false },
    })
    await api.getMe()
    expect(requests()[0]?.path).toBe(`/bot${TOKEN}/getMe`)
  })
})

describe('error mapping', () => {
  const cases: Array<[string, number, string, string, (e: unknown) => boolean]> = [
    [
      'CHARGE_ALREADY_REFUNDED',
      400,
      'Bad Request: CHARGE_ALREADY_REFUNDED',
      'refundStarPayment',
      isChargeAlreadyRefunded,
    ],
    [
      'CHARGE_NOT_FOUND',
      400,
      'Bad Request: CHARGE_NOT_FOUND',
      'refundStarPayment',
      isChargeNotFound,
    ],
    [
      'CHARGE_ID_EMPTY',
      400,
      'Bad Request: CHARGE_ID_EMPTY',
      'refundStarPayment',
      (e) => hasErrorCode(e, 'CHARGE_ID_EMPTY'),
    ],
    [
      'USER_ID_INVALID',
      400,
      'Bad Request: USER_ID_INVALID',
      'refundStarPayment',
      (e) => hasErrorCode(e, 'USER_ID_INVALID'),
    ],
    [
      'QUERY_TOO_OLD',
      400,
      'Bad Request: query is too old and response timeout expired or query ID is invalid',
      'answerPreCheckoutQuery',
      isQueryTooOld,
    ],
    ['UNAUTHORIZED', 401, 'Unauthorized', 'getMe', isUnauthorized],
    ['NOT_FOUND', 404, 'Not Found', 'getMe', (e) => hasErrorCode(e, 'NOT_FOUND')],
    [
      'CONFLICT',
      409,
      'Conflict: terminated by other getUpdates request',
      'getMe',
      (e) => hasErrorCode(e, 'CONFLICT'),
    ],
    [
      'BAD_REQUEST',
      400,
      'Bad Request: chat not found',
      'sendMessage',
      (e) => hasErrorCode(e, 'BAD_REQUEST'),
    ],
    ['UNKNOWN', 500, 'Internal Server Error', 'sendMessage', (e) => hasErrorCode(e, 'UNKNOWN')],
  ]

  it.each(cases)('%s', async (code, errorCode, description, method, predicate) => {
    const api = await apiWith(() => fail(errorCode, description))
    const error = await caught(api.call(method, {}, { retry: false }))
    expect(error).toBeInstanceOf(TelegramApiError)
    expect(error).toBeInstanceOf(TelegramError)
    expect(error).toMatchObject({ method, errorCode, description, code })
    expect(predicate(error)).toBe(true)
    expect(isChargeAlreadyRefunded(error)).toBe(code === 'CHARGE_ALREADY_REFUNDED')
    expect(isTransient(error)).toBe(errorCode >= 500)
  })

  it('429 becomes TOO_MANY_REQUESTS with retryAfter and is transient', async () => {
    const api = await apiWith(() =>
      fail(429, 'Too Many Requests: retry after 7', { retry_after: 7 }),
    )
    const error = await caught(api.sendMessage({ chat_id: 1, text: 'x' }))
    expect(error).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      errorCode: 429,
      retryAfter: 7,
      transient: true,
    })
    expect(isRateLimited(error)).toBe(true)
    expect(isTransient(error)).toBe(true)
    // sendMessage is not retried by default.
    expect(requests()).toHaveLength(1)
  })

  it('a non-JSON reply (proxy HTML) is a TelegramNetworkError bad_response, transient on 502', async () => {
    const api = await apiWith(() => ({ raw: '<html>502 Bad Gateway</html>', status: 502 }))
    const error = await caught(api.sendMessage({ chat_id: 1, text: 'x' }))
    expect(error).toBeInstanceOf(TelegramNetworkError)
    expect(error).toMatchObject({ reason: 'bad_response', httpStatus: 502, transient: true })
  })

  it('a non-JSON 404 (wrong apiRoot) is not transient', async () => {
    const api = await apiWith(() => ({ raw: 'nope', status: 404 }))
    const error = await caught(api.getMe({ retry: false }))
    expect(error).toMatchObject({ reason: 'bad_response', httpStatus: 404, transient: false })
  })
})

describe('network failures', () => {
  it('no reply within timeoutMs → TelegramNetworkError timeout, transient', async () => {
    const api = await apiWith(() => ({ hang: true }), { timeoutMs: 100 })
    const started = Date.now()
    const error = await caught(
      api.refundStarPayment({ user_id: 1, telegram_payment_charge_id: 'x' }),
    )
    expect(Date.now() - started).toBeLessThan(2000)
    expect(error).toBeInstanceOf(TelegramNetworkError)
    expect(error).toMatchObject({ method: 'refundStarPayment', reason: 'timeout', transient: true })
    expect(isTimeout(error)).toBe(true)
    expect(isTransient(error)).toBe(true)
  })

  it('per-call timeoutMs overrides the default', async () => {
    const api = await apiWith(() => ({ hang: true }), { timeoutMs: 60_000 })
    const error = await caught(api.sendMessage({ chat_id: 1, text: 'x' }, { timeoutMs: 50 }))
    expect(isTimeout(error)).toBe(true)
  })

  it('connection refused → TelegramNetworkError connection', async () => {
    const probe = await startStub(() => ok(true))
    const deadRoot = probe.apiRoot
    await probe.close()
    const api = createBotApi({ token: TOKEN, apiRoot: deadRoot, retry: false })
    const error = await caught(api.getMe())
    expect(error).toBeInstanceOf(TelegramNetworkError)
    expect(error).toMatchObject({ reason: 'connection', transient: true })
    expect((error as Error).message).toMatch(/ECONNREFUSED/)
  })

  it('a socket closed mid-request → connection error', async () => {
    const api = await apiWith(() => ({ destroy: true }), { retry: false })
    expect(await caught(api.getMe())).toMatchObject({ reason: 'connection' })
  })

  it('an abort by the caller is reported as aborted and not transient', async () => {
    const controller = new AbortController()
    // Abort once the request has reached the server (a fixed delay raced it on a busy machine).
    const api = await apiWith(() => {
      setImmediate(() => controller.abort())
      return { hang: true }
    })
    const error = await caught(api.getMe({ signal: controller.signal }))
    expect(error).toMatchObject({ reason: 'aborted', transient: false })
    expect(requests()).toHaveLength(1)
  })
})

describe('retries', () => {
  it('read-only methods retry transient failures, then succeed', async () => {
    let n = 0
    const api = await apiWith(() => (++n < 3 ? fail(502, 'Bad Gateway') : ok({ amount: 5 })))
    expect(await api.getMyStarBalance()).toEqual({ amount: 5 })
    expect(requests()).toHaveLength(3)
  })

  it('retries wait retry_after seconds on 429', async () => {
    const waits: number[] = []
    let n = 0
    const api = await apiWith(
      () =>
        ++n === 1
          ? fail(429, 'Too Many Requests: retry after 2', { retry_after: 2 })
          : ok({ transactions: [] }),
      { retry: { sleep: async (ms) => void waits.push(ms) } },
    )
    await api.getStarTransactions()
    expect(waits).toEqual([2000])
  })

  it('gives up after `attempts` tries and throws the last error', async () => {
    const api = await apiWith(() => fail(500, 'Internal Server Error'), {
      retry: { attempts: 2, sleep: async () => {} },
    })
    const error = await caught(api.getMe())
    expect(error).toMatchObject({ errorCode: 500 })
    expect(requests()).toHaveLength(2)
  })

  it('does not retry when retry_after exceeds maxDelayMs', async () => {
    const api = await apiWith(
      () => fail(429, 'Too Many Requests: retry after 120', { retry_after: 120 }),
      {
        retry: { maxDelayMs: 10_000, sleep: async () => {} },
      },
    )
    await caught(api.getMe())
    expect(requests()).toHaveLength(1)
  })

  it('non-idempotent methods are not retried unless asked', async () => {
    const api = await apiWith(() => fail(502, 'Bad Gateway'))
    await caught(api.refundStarPayment({ user_id: 1, telegram_payment_charge_id: 'x' }))
    expect(requests()).toHaveLength(1)
    await caught(
      api.refundStarPayment({ user_id: 1, telegram_payment_charge_id: 'x' }, { retry: true }),
    )
    expect(requests()).toHaveLength(4)
  })

  it('permanent errors are never retried', async () => {
    const api = await apiWith(() => fail(401, 'Unauthorized'))
    await caught(api.getMe())
    expect(requests()).toHaveLength(1)
  })

  it('retry: false in options disables retries for every method', async () => {
    const api = await apiWith(() => fail(502, 'Bad Gateway'), { retry: false })
    await caught(api.getMe())
    expect(requests()).toHaveLength(1)
  })
})
