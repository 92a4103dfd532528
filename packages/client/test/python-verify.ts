import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const pythonSrc = fileURLToPath(new URL('../../../clients/python/src', import.meta.url))

/** The Python client's verifier, with the machine's python3: prints the event type or the error. */
export function pythonVerify(
  secret: string,
  headers: Record<string, string>,
  body: string,
): string {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(pythonSrc)})
from estars import verify_webhook, WebhookSignatureError
args = json.load(sys.stdin)
try:
    print(verify_webhook(args["secret"], args["headers"], args["body"].encode("utf-8"))["type"])
except WebhookSignatureError as error:
    print("refused: " + str(error))
`
  return execFileSync('python3', ['-c', script], {
    input: JSON.stringify({ secret, headers, body }),
    encoding: 'utf8',
  }).trim()
}
