export interface Summary {
  ops: number
  opsPerSec: number
  p50: number
  p99: number
}

/** Latencies in milliseconds → throughput and percentiles (nearest rank). */
export function summarize(latencies: number[], elapsedSeconds: number): Summary {
  const sorted = [...latencies].sort((a, b) => a - b)
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
  return {
    ops: sorted.length,
    opsPerSec: sorted.length / elapsedSeconds,
    p50: rank(50),
    p99: rank(99),
  }
}
