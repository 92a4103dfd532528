import { authenticateSession, listOperatorProjects, login, logout } from '@e-stars/billing'
import { limitConsoleLogin } from '../../limits.ts'
import { operatorProcedure, publicProcedure } from '../../trpc.ts'
import { loginInput } from './inputs.ts'

export const authRouter = {
  /**
   * Checks the password, sets the httpOnly session cookie, returns the CSRF token to echo.
   * Failures are limited per email and per address (TOO_MANY_LOGIN_ATTEMPTS, `Retry-After`).
   */
  login: publicProcedure.input(loginInput).mutation(async ({ ctx, input }) => {
    const session = await limitConsoleLogin(
      ctx.limits,
      { email: input.email, ip: ctx.clientIp },
      () => login(ctx.db, input),
    )
    ctx.sessionCookie.set(session.token, new Date(session.expiresAt))
    ctx.logger.info({ operatorId: session.operator.id }, 'operator logged in')
    const { token: _token, ...visible } = session
    return visible
  }),
  /** The logged-in operator, their projects and the CSRF token; null when not logged in. */
  session: publicProcedure.query(async ({ ctx }) => {
    if (!ctx.sessionToken || ctx.apiKey) return null
    const session = await authenticateSession(ctx.db, ctx.sessionToken)
    if (!session) return null
    if (session.renewed) ctx.sessionCookie.set(ctx.sessionToken, new Date(session.expiresAt))
    return {
      operator: session.operator,
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
      projects: await listOperatorProjects(ctx.db, session.operator.id),
    }
  }),
  logout: operatorProcedure.mutation(async ({ ctx }) => {
    await logout(ctx.db, ctx.sessionToken!)
    ctx.sessionCookie.clear()
    return { loggedOut: true as const }
  }),
}
