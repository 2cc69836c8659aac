/*
 * Preloaded into benchmarked servers (`--expose-gc --import`): SIGUSR2 runs a full garbage
 * collection, so a bench can read resident memory without the garbage of what came before.
 */
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
})
