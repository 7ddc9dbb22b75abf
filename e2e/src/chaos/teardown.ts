// What a chaos run leaves behind when it is abandoned (issue 26): vitest gives up on a test that
// meets its timeout without ending its promise, so `runChaos`'s own `finally` never runs and its
// services and servers stay up (two runs left ten services and two MongoDB servers behind at
// 19:17, docs/reliability.md). The run registers its clean-up here as it goes; the spec's
// `afterAll` runs it, and only what has not been cleaned up yet is done.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";

type Step = () => Promise<void> | void;

/**
 * The clean-up of one run: steps run once, newest first, each failure logged and passed over.
 * `run()` is idempotent (the run's `finally` and the spec's hook may both call it).
 */
export class ChaosTeardown {
  private readonly steps: { label: string; step: Step }[] = [];
  private running: Promise<void> | undefined;
  constructor(private readonly log: (line: string) => void = () => undefined) {}

  /** Registers a step (a child process to SIGKILL, servers to stop, a loop to end...). */
  add(label: string, step: Step): void {
    this.steps.push({ label, step });
  }

  /** A service process: SIGKILLed at teardown if it is still running. */
  child(label: string, child: ChildProcess): void {
    this.add(label, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
  }

  get done(): boolean {
    return this.running !== undefined;
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { label, step } of this.steps.reverse()) {
        try {
          await step();
        } catch (error) {
          this.log(`teardown: ${label}: ${String(error)}`);
        }
      }
    })();
    return this.running;
  }
}

/**
 * SIGKILLs the process group of every server infra.sh started under `stateDir` (infra.sh
 * launches each with `setsid`, so its pid is its group's), e.g. when `infra.sh stop` cannot run.
 * Returns the pids signalled.
 */
export function killServerGroups(stateDir: string): number[] {
  const run = join(stateDir, "run");
  const killed: number[] = [];
  for (const file of existsSync(run) ? readdirSync(run) : []) {
    if (!file.endsWith(".pid")) continue;
    const pid = Number(readFileSync(join(run, file), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      process.kill(-pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // Gone already.
    }
  }
  return killed;
}
