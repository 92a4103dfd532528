export const TOKEN = '7012345678:AAHk3secretTOKENvalue_abcdefghijklmno'

export const payer = {
  id: 5000001,
  is_bot: false,
  first_name: 'Ada',
  username: 'ada_l',
  language_code: 'en',
}

export const botUser = {
  id: 7012345678,
  is_bot: true,
  first_name: 'e-Stars Demo',
  username: 'estars_demo_bot',
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
}

export const privateChat = { id: 5000001, first_name: 'Ada', username: 'ada_l', type: 'private' }

export const oneTimePaymentUpdate = {
  update_id: 912000101,
  message: {
    message_id: 1201,
    from: payer,
    chat: privateChat,
    date: 1781000000,
    successful_payment: {
      currency: 'XTR',
      total_amount: 250,
      invoice_payload: 'ord_01J9Z3.sig8f2a',
      telegram_payment_charge_id: 'stxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
      provider_payment_charge_id: '5000001_1201',
    },
  },
}

export const firstSubscriptionPaymentUpdate = {
  update_id: 912000102,
  message: {
    message_id: 1202,
    from: payer,
    chat: privateChat,
    date: 1781000100,
    successful_payment: {
      currency: 'XTR',
      total_amount: 500,
      invoice_payload: 'sub_01J9Z4.sig11aa',
      subscription_expiration_date: 1783592100,
      is_recurring: true,
      is_first_recurring: true,
      telegram_payment_charge_id: 'stxSUBfirst000000000000000000000000000001',
      provider_payment_charge_id: '5000001_1202',
    },
  },
}

export const refundedPaymentUpdate = {
  update_id: 912000103,
  message: {
    message_id: 1203,
    from: payer,
    chat: privateChat,
    date: 1781000200,
    refunded_payment: {
      currency: 'XTR',
      total_amount: 250,
      invoice_payload: 'ord_01J9Z3.sig8f2a',
      telegram_payment_charge_id: 'stxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
    },
  },
}

export const preCheckoutUpdate = {
  update_id: 912000100,
  pre_checkout_query: {
    id: '2147483647001',
    from: payer,
    currency: 'XTR',
    total_amount: 250,
    invoice_payload: 'ord_01J9Z3.sig8f2a',
  },
}

export const textMessageUpdate = {
  update_id: 912000104,
  message: {
    message_id: 1204,
    from: payer,
    chat: privateChat,
    date: 1781000300,
    text: '/paysupport',
    entities: [{ offset: 0, length: 11, type: 'bot_command' }],
  },
}

export const chargeTx = {
  id: 'stxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  amount: 250,
  date: 1781000000,
  source: {
    type: 'user',
    transaction_type: 'invoice_payment',
    user: payer,
    invoice_payload: 'ord_01J9Z3.sig8f2a',
  },
}

export const refundTx = {
  id: 'stxAbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  amount: 250,
  date: 1781000200,
  receiver: { type: 'user', transaction_type: 'invoice_payment', user: payer },
}

export const withdrawalTx = {
  id: 'fragment-w-1',
  amount: 1000,
  date: 1781000300,
  receiver: {
    type: 'fragment',
    withdrawal_state: { type: 'succeeded', date: 1781000400, url: 'https://fragment.com/tx/1' },
  },
}
