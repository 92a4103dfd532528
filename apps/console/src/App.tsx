import { type RouteDefinition, Router } from '@solidjs/router'
import { lazy, type ParentProps, Suspense } from 'solid-js'
import { Layout } from './components/Layout.tsx'
import { Loading } from './components/States.tsx'
import { SessionProvider } from './lib/session.tsx'

const routes: RouteDefinition[] = [
  { path: '/login', component: lazy(() => import('./pages/Login.tsx')) },
  {
    path: '/',
    component: Layout,
    children: [
      { path: '/', component: lazy(() => import('./pages/Overview.tsx')) },
      { path: '/customers', component: lazy(() => import('./pages/Customers.tsx')) },
      { path: '/customers/:telegramUserId', component: lazy(() => import('./pages/Customer.tsx')) },
      { path: '/payments', component: lazy(() => import('./pages/Payments.tsx')) },
      { path: '/products', component: lazy(() => import('./pages/Products.tsx')) },
      { path: '/margin', component: lazy(() => import('./pages/Margin.tsx')) },
      { path: '/reconciliation', component: lazy(() => import('./pages/Reconciliation.tsx')) },
      { path: '/treasury', component: lazy(() => import('./pages/Treasury.tsx')) },
      { path: '/settings', component: lazy(() => import('./pages/Settings.tsx')) },
      { path: '/webhooks', component: lazy(() => import('./pages/Webhooks.tsx')) },
      { path: '/audit', component: lazy(() => import('./pages/Audit.tsx')) },
      { path: '/sandbox', component: lazy(() => import('./pages/Sandbox.tsx')) },
      { path: '*', component: lazy(() => import('./pages/NotFound.tsx')) },
    ],
  },
]

function Root(props: ParentProps) {
  return (
    <SessionProvider>
      <Suspense fallback={<Loading />}>{props.children}</Suspense>
    </SessionProvider>
  )
}

export function App() {
  return <Router root={Root}>{routes}</Router>
}
