import { openApiDocument, REST_BASE_PATH } from '@e-stars/api'
import type express from 'express'

type Document = ReturnType<typeof openApiDocument>

interface Operation {
  method: string
  path: string
  summary: string
  description: string
  tags: string[]
  parameters: Array<{ name: string; in: string; required: boolean; description: string }>
  hasBody: boolean
  statuses: string[]
}

/** Served as a file: the console's CSP allows styles from this origin only, never inline. */
const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
code{font:13px ui-monospace,monospace;background:#f2f2f5;padding:0 .25rem;border-radius:3px}
.op{border-top:1px solid #ddd;padding:.5rem 0}.op h3{margin:.25rem 0;font-size:1rem}
.m{display:inline-block;min-width:3.5rem;font:600 12px ui-monospace,monospace;color:#fff;background:#555;border-radius:3px;padding:.1rem .3rem;text-align:center}
.get{background:#1f6feb}.post{background:#2da44e}.delete{background:#cf222e}.put,.patch{background:#9a6700}
`

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

/** Every REST operation of the document, in its order: what `/docs` lists. */
export function restOperations(document: Document): Operation[] {
  const found: Operation[] = []
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const op = (item as Record<string, unknown> | undefined)?.[method] as
        | {
            summary?: string
            description?: string
            tags?: string[]
            parameters?: Array<{
              name: string
              in: string
              required?: boolean
              description?: string
            }>
            requestBody?: unknown
            responses?: Record<string, unknown>
          }
        | undefined
      if (!op) continue
      found.push({
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? '',
        description: op.description ?? '',
        tags: op.tags ?? [],
        parameters: (op.parameters ?? []).map((p) => ({
          name: p.name,
          in: p.in,
          required: Boolean(p.required),
          description: p.description ?? '',
        })),
        hasBody: op.requestBody !== undefined,
        statuses: Object.keys(op.responses ?? {}),
      })
    }
  }
  return found
}

const html = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * The API reference at `/docs`: rendered here from the same OpenAPI document as
 * `/api/v1/openapi.json`, once at start-up, as one HTML page and its stylesheet (no script, no fonts,
 * nothing from another origin), so it works offline and under the server's strict security headers.
 */
export function renderApiDocs(document: Document): string {
  const operations = restOperations(document)
  const rows = operations
    .map((op) => {
      const params = op.parameters
        .map(
          (p) =>
            `<li><code>${html(p.name)}</code> <small>(${html(p.in)}${p.required ? ', required' : ''})</small> ${html(p.description)}</li>`,
        )
        .join('')
      return `<section class="op" id="${html(`${op.method} ${op.path}`)}">
<h3><span class="m ${op.method.toLowerCase()}">${op.method}</span> <code>${html(REST_BASE_PATH + op.path)}</code></h3>
${op.summary ? `<p><strong>${html(op.summary)}</strong></p>` : ''}
${op.description ? `<p>${html(op.description)}</p>` : ''}
${params ? `<ul>${params}</ul>` : ''}
${op.hasBody ? '<p><small>JSON body: see the schema in openapi.json</small></p>' : ''}
<p><small>Answers: ${op.statuses.map(escape).join(', ')}</small></p>
</section>`
    })
    .join('\n')
  const info = document.info
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(info.title)} — reference</title>
<link rel="stylesheet" href="/docs/style.css"></head><body>
<h1>${html(info.title)} <small>${html(info.version)}</small></h1>
<p>${html(info.description ?? '')}</p>
<p>OpenAPI ${html(document.openapi)} document: <a href="${REST_BASE_PATH}/openapi.json"><code>${REST_BASE_PATH}/openapi.json</code></a>.
${operations.length} operations.</p>
${rows}
</body></html>`
}

/** Mounts `/docs` (the reference page) and `/openapi.json` (the document, as under `/api/v1`). */
export function mountApiDocs(app: express.Express) {
  const document = openApiDocument(REST_BASE_PATH)
  const page = renderApiDocs(document)
  const json = JSON.stringify(document)
  app.get('/docs', (_req, res) => {
    res.type('text/html; charset=utf-8').send(page)
  })
  app.get('/docs/style.css', (_req, res) => {
    res.type('text/css').send(STYLE)
  })
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(json)
  })
}
