import { readdirSync } from "node:fs";
import { setPriority } from "node:os";
import type { Logger } from "@parley/telemetry";

/**
 * Every thread of this process: on Linux a priority belongs to a thread, and Node's threads
 * (V8's collector helpers, libuv's pool) are started before a service reads its configuration,
 * so lowering only the main thread's would leave them at the old one. Elsewhere: the process.
 */
function threadsOfThisProcess(): number[] {
  try {
    return readdirSync("/proc/self/task").map(Number).filter(Number.isInteger);
  } catch {
    return [0];
  }
}

/**
 * Lowers the process's scheduling priority to `nice` (0 normal, 19 lowest), every thread of it,
 * and says so in the log. Threads started later inherit it. 0 changes nothing. A priority that
 * cannot be set is logged as a warning and the service runs at the one it has: a slower read
 * side is no reason not to start.
 */
export function applyCpuNice(
  nice: number,
  logger: Pick<Logger, "info" | "warn">,
  set: (thread: number, priority: number) => void = setPriority,
  threads: () => readonly number[] = threadsOfThisProcess,
): void {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
    throw new RangeError(`applyCpuNice: nice must be an integer from 0 to 19, got ${String(nice)}`);
  }
  if (nice === 0) return;
  try {
    for (const thread of threads()) set(thread, nice);
    logger.info(
      { nice },
      "CPU priority lowered: the service yields CPU to others when it is scarce",
    );
  } catch (error) {
    logger.warn(
      { nice, error: error instanceof Error ? error.message : String(error) },
      "could not lower the CPU priority (CPU_NICE); running at the current priority",
    );
  }
}
