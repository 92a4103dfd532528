import { A } from '@solidjs/router'

export default function NotFound() {
  return (
    <div class="page">
      <h1>Not found</h1>
      <p>
        This page does not exist. <A href="/">Back to the overview</A>
      </p>
    </div>
  )
}
