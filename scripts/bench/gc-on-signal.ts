/*
 * Preloaded into benchmarked servers (`--expose-gc --import`): SIGWINCH runs a full garbage
 * collection, so a bench can read resident memory without the garbage of what came before
 * (SIGWINCH: ignored by default and by close-with-grace, which takes SIGUSR2).
 */
process.on('SIGWINCH', () => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
})
