import { useNavigate } from '@solidjs/router'
import { createEffect, createSignal, onMount, Show } from 'solid-js'
import { describeError, errorInfo } from '../lib/api.ts'
import { formatRelative } from '../lib/format.ts'
import { useSession } from '../lib/session.tsx'

export default function Login() {
  const session = useSession()
  const navigate = useNavigate()
  const [pending, setPending] = createSignal(false)
  const [error, setError] = createSignal<string | null>(null)
  let email!: HTMLInputElement
  // `autofocus` only works on the first page load; the login page may be reached later.
  onMount(() => email.focus())
  createEffect(() => {
    if (session.session()) navigate('/', { replace: true })
  })
  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    setPending(true)
    setError(null)
    try {
      await session.login(String(form.get('email')), String(form.get('password')))
      navigate('/', { replace: true })
    } catch (e) {
      const info = errorInfo(e)
      if (info.billing?.code === 'TOO_MANY_LOGIN_ATTEMPTS')
        setError(
          `Too many failed attempts. Try again ${formatRelative(String(info.billing.retryAt))}.`,
        )
      else if (info.code === 'UNAUTHORIZED') setError('Wrong email or password.')
      else setError(describeError(e))
    } finally {
      setPending(false)
    }
  }
  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
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
        <Show when={error()}>
          <p class="form-error" role="alert">
            {error()}
          </p>
        </Show>
        <button type="submit" disabled={pending()}>
          {pending() ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  )
}
