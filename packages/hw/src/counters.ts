/** What the hardware did, for reports and benchmarks: bytes moved, cache operations, faults. */
export interface HwCounters {
  /** Bytes the CPUs read / wrote (any memory type). */
  cpuBytesRead: number;
  cpuBytesWritten: number;
  /** Bytes bus masters read from / wrote to memory. */
  deviceBytesRead: number;
  deviceBytesWritten: number;
  /** Cache maintenance calls (`dmac_clean_range`, `dmac_inv_range`, `dmac_flush_range`). */
  cacheCleans: number;
  cacheInvalidates: number;
  cacheFlushes: number;
  /** Dirty lines copied back to memory: by maintenance, eviction or a snooping device write. */
  linesWrittenBack: number;
  /** Lines read from memory into the cache, prefetches included. */
  linesFilled: number;
  /** Lines pushed out to respect the cache capacity. */
  linesEvicted: number;
  /** Write-combine buffer entries written to memory. */
  wcDrains: number;
  /** DMA faults (every kind). */
  faults: number;
}

/** All counters at zero. */
export function createHwCounters(): HwCounters {
  return {
    cpuBytesRead: 0,
    cpuBytesWritten: 0,
    deviceBytesRead: 0,
    deviceBytesWritten: 0,
    cacheCleans: 0,
    cacheInvalidates: 0,
    cacheFlushes: 0,
    linesWrittenBack: 0,
    linesFilled: 0,
    linesEvicted: 0,
    wcDrains: 0,
    faults: 0,
  };
}

/** Sets every counter back to zero, in place (holders of the object see the reset). */
export function resetHwCounters(counters: HwCounters): void {
  Object.assign(counters, createHwCounters());
}
