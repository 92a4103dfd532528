import { action, useNavigate, useSubmission } from '@solidjs/router'
import { createEffect, onMount, Show } from 'solid-js'
import { api, describeError, errorInfo, setCsrfToken } from '../lib/api.ts'
import { formatRelative } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

/** Logs in; the router then refetches the session, and the page moves on to the overview. */
const logIn = action(async (d: FormData) => {
  const result = await api.operator.auth.login.mutate({
    email: String(d.get('email')),
    password: String(d.get('password')),
  })
  setCsrfToken(result.csrfToken)
  return true
}, 'login')

/** Why the login was refused, in words: a wrong password, or too many attempts and when to retry. */
function refusal(error: unknown): string {
  const info = errorInfo(error)
  if (info.billing?.code === 'TOO_MANY_LOGIN_ATTEMPTS')
    return `Too many failed attempts. Try again ${formatRelative(String(info.billing.retryAt))}.`
  if (info.code === 'UNAUTHORIZED') return 'Wrong email or password.'
  return describeError(error)
}

export default function Login() {
  const session = useSession()
  const navigate = useNavigate()
  const submission = useSubmission(logIn)
  let email!: HTMLInputElement
  // `autofocus` only works on the first page load; the login page may be reached later.
  onMount(() => email.focus())
  createEffect(() => {
    if (session.session()) navigate('/', { replace: true })
  })
  return (
    <main class="login">
      <form class="card login-card" action={logIn} method="post" aria-labelledby="login-title">
        <h1 id="login-title">e-Stars console</h1>
        <p class="muted">Log in to see balances, payments and refunds.</p>
        <label>
          Email
          <input ref={email} name="email" type="email" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <Show when={submission.error}>
          {(error) => (
            <p class="form-error" role="alert">
              {refusal(error())}
            </p>
          )}
        </Show>
        <button type="submit" disabled={submission.pending}>
          {submission.pending ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  )
}
