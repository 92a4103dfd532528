import { createResource, createSignal, type Resource, type ResourceFetcher } from 'solid-js'
import { type Balance, type Entitlement, me } from './api.ts'

export interface Account {
  /** The header's balance (the server's; the only source of truth). */
  balance: Resource<Balance | undefined>
  entitlements: Resource<Entitlement[] | undefined>
  /**
   * Bumped by `reload`: every screen's resource takes it as its source, so it fetches again when
   * anything may have changed (a purchase, a use, a refund seen by the timer). False before the
   * user is signed in, so nothing is fetched yet.
   */
  version: () => number | false
  /** Reads everything again; resolves with a fingerprint of what a purchase can change. */
  reload(): Promise<string>
}

/** What a purchase changes: the balance, the debt, and what is unlocked until when. */
const fingerprint = (b: Balance | undefined, e: Entitlement[] | undefined) =>
  JSON.stringify([b?.available, b?.debt, (e ?? []).map((x) => [x.featureKey, x.endsAt])])

/** A fetcher whose failure keeps the value shown before and goes to `onError` (the notice). */
const kept =
  <S, T>(
    read: () => Promise<T>,
    onError: (error: unknown) => void,
  ): ResourceFetcher<S, T | undefined> =>
  async (_, info) => {
    try {
      return await read()
    } catch (error) {
      onError(error)
      return info.value
    }
  }

/** The signed-in user's account as resources; `signedIn` gates the first fetch. */
export function createAccount(signedIn: () => boolean, onError: (error: unknown) => void): Account {
  const [version, setVersion] = createSignal(1)
  const [balance, balanceActions] = createResource<Balance | undefined, true>(
    () => signedIn() || false,
    kept(me.balance, onError),
  )
  const [entitlements, entitlementActions] = createResource<Entitlement[] | undefined, true>(
    () => signedIn() || false,
    kept(me.entitlements, onError),
  )
  return {
    balance,
    entitlements,
    version: () => (signedIn() ? version() : false),
    async reload() {
      setVersion((v) => v + 1)
      await Promise.all([balanceActions.refetch(), entitlementActions.refetch()])
      // `latest`, not what refetch returned: a refetch asked for while one is on its way returns
      // nothing, and the value shown is what the comparison must be about.
      return fingerprint(balance.latest, entitlements.latest)
    },
  }
}

/** A screen's resource that follows the account's `version` (see `Account.reload`). */
export function createScreenResource<T>(
  account: Account,
  read: () => Promise<T>,
  onError: (error: unknown) => void,
) {
  return createResource<T | undefined, number>(account.version, kept(read, onError))
}
