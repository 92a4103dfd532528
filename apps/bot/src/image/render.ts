import { encodePng } from './png.ts'

export interface RenderedImage {
  png: Buffer
  width: number
  height: number
}

function seedOf(text: string): number {
  let h = 0x811c9dc5
  for (const ch of text.trim().toLowerCase()) {
    h ^= ch.codePointAt(0) ?? 0
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** mulberry32: a tiny deterministic generator, so a prompt always renders the same picture. */
function random(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h * 12) % 12
  const a = s * Math.min(l, 1 - l)
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1))
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)]
}

/**
 * The offline image "model": a gradient sky with a few soft circles, colours and layout drawn
 * from the prompt's hash. Small (default 256×256), no network, the same prompt → the same PNG.
 */
export function renderImage(prompt: string, size = 256): RenderedImage {
  const next = random(seedOf(prompt))
  const hue = next()
  const top = hsl(hue, 0.6, 0.75)
  const bottom = hsl((hue + 0.15 + next() * 0.2) % 1, 0.55, 0.35)
  const circles = Array.from({ length: 3 + Math.floor(next() * 4) }, () => ({
    x: next() * size,
    y: next() * size,
    r: size * (0.06 + next() * 0.18),
    color: hsl((hue + 0.4 + next() * 0.4) % 1, 0.7, 0.55 + next() * 0.2),
  }))
  const rgb = new Uint8Array(size * size * 3)
  for (let y = 0; y < size; y++) {
    const t = y / (size - 1)
    for (let x = 0; x < size; x++) {
      let c: [number, number, number] = [
        top[0] + (bottom[0] - top[0]) * t,
        top[1] + (bottom[1] - top[1]) * t,
        top[2] + (bottom[2] - top[2]) * t,
      ]
      for (const circle of circles) {
        const d = Math.hypot(x - circle.x, y - circle.y)
        const alpha = Math.max(0, Math.min(1, (circle.r - d) / 2 + 0.5)) * 0.85
        if (alpha > 0)
          c = [
            c[0] + (circle.color[0] - c[0]) * alpha,
            c[1] + (circle.color[1] - c[1]) * alpha,
            c[2] + (circle.color[2] - c[2]) * alpha,
          ]
      }
      const i = (y * size + x) * 3
      rgb[i] = Math.round(c[0])
      rgb[i + 1] = Math.round(c[1])
      rgb[i + 2] = Math.round(c[2])
    }
  }
  return { png: encodePng(size, size, rgb), width: size, height: size }
}
