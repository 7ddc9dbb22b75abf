// What the outbound benchmark (bench/outbound.ts) measures besides the simulator's log: rates
// from send instants, a process's RSS and CPU time, the machine's stolen CPU, heap snapshots.
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, renameSync, statSync } from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";

/**
 * The steady rate: sends in whole seconds from one second after the first send (consumer join,
 * first fetch) to half a second before the last (tail). Whole seconds, because the cap holds per
 * second: a span of 6.6 s may hold seven seconds' worth of sends, which over 6.6 s reads as more
 * than the cap.
 */
export function steadyRate(times: readonly number[]): { rate: number; spanMs: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const last = sorted.at(-1) ?? 0;
  const from = first + 1_000;
  const seconds = Math.floor((last - 500 - from) / 1_000);
  if (seconds < 1)
    return { rate: sorted.length / Math.max(0.001, (last - first) / 1_000), spanMs: last - first };
  const to = from + seconds * 1_000;
  const n = sorted.filter((t) => t >= from && t < to).length;
  return { rate: n / seconds, spanMs: last - first };
}

/** Instants counted by whole second from the first: where a sustained rate dipped. */
export function perSecond(times: readonly number[]): number[] {
  const first = Math.min(...times);
  const seconds = Math.floor((Math.max(...times) - first) / 1_000) + 1;
  const counts = new Array<number>(times.length === 0 ? 0 : seconds).fill(0);
  for (const t of times) {
    const i = Math.floor((t - first) / 1_000);
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Has the sender write a heap snapshot (it was started with --heapsnapshot-signal=SIGUSR2) into
 * `dir`, waits until the file is complete, and names it after the case.
 */
export async function heapSnapshot(child: ChildProcess, dir: string, name: string): Promise<void> {
  const before = new Set(readdirSync(dir));
  child.kill("SIGUSR2");
  const deadline = Date.now() + 120_000;
  let last = -1;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) {
      renameSync(join(dir, file), join(dir, `${name}.heapsnapshot`));
      console.log(`${name}: heap snapshot ${join(dir, `${name}.heapsnapshot`)}`);
      return;
    }
    last = size;
  }
  console.log(`${name}: no heap snapshot within 120 s`);
}

/** The machine's CPU counters (all cores, clock ticks): total, and stolen by the hypervisor. */
export function cpuTicks(): { total: number; steal: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

/** CPU time (user + system) a process has used, in ms, from /proc (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * The simulator stands in for Meta's servers, which do not share our cores. Here it shares two
 * with the sender, Kafka and MongoDB, and a stall of its event loop stamps a bunch of arrivals
 * late at once, which its exact one-second window counts as a burst the sender never sent. So
 * this process (the simulator, and the baseline client) runs at a higher scheduling priority:
 * BENCH_SIM_NICE, -10 unless set; 0 leaves it as it is. Lowering a nice value needs root.
 */
export function simPriority(): void {
  const nice = Number(process.env["BENCH_SIM_NICE"] ?? -10);
  if (nice === 0) return;
  try {
    setPriority(nice);
    console.log(`[bench] simulator process at nice ${String(nice)}`);
  } catch (error) {
    console.log(
      `[bench] simulator process left at its priority (nice ${String(nice)} refused: ${String(error)})`,
    );
  }
}
