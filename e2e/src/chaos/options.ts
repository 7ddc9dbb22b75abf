// The chaos run's options and result (e2e/src/chaos/run.ts, docs/reliability.md).
import type { ChaosReport } from "./checker.js";
import type { FaultName } from "./faults.js";
import type { ChaosTeardown } from "./teardown.js";

export interface ChaosOptions {
  /** Namespace, infra profile and log directory name. */
  readonly name: string;
  readonly sendsPerS: number;
  readonly webhooksPerS: number;
  /** How long the load runs; the fault schedule is spread over it. */
  readonly loadS: number;
  /**
   * Restart the Kafka broker on its data mid-run (the full run does; the short one leaves it to
   * readiness.e2e.spec.ts and produce-outage.e2e.spec.ts, which restart a broker on its data).
   */
  readonly brokerRestart: boolean;
  /** How long MongoDB stays stopped (issue 26: 30 s). */
  readonly mongoOutageS: number;
  /**
   * Own servers' ports: Kafka (and its controller at +1; undefined: the environment's broker,
   * KAFKA_BROKERS, which the run never restarts), MongoDB. With `cluster`, kafkaPort is the first
   * node's of the three-node cluster (infra.sh kafka-cluster: 2 ports per node).
   */
  readonly kafkaPort?: number;
  readonly mongoPort: number;
  /** Three Kafka nodes (RF 3, min ISR 2) instead of one broker; the schedule may kill one. */
  readonly cluster?: boolean;
  /** The faults to run (default: every one of the full schedule but `kill-broker-node`). */
  readonly faults?: readonly FaultName[];
  /** Instances of router and of sender (default 2, so that a kill rebalances their groups). */
  readonly instances?: number;
  readonly schemaRegistryUrl: string;
  /** Business numbers (each at `mps`) and contacts the sends go to. */
  readonly numbers: number;
  readonly mps: number;
  readonly contacts: number;
  /**
   * Bound on waiting for every request's outcome, every group's lag at zero and the read models
   * after the load (and for the catch-up after MongoDB's outage); the waits end sooner when the
   * work is done, or when it stops progressing for `stallS` (default 120 s).
   */
  readonly settleTimeoutS: number;
  readonly stallS?: number;
  readonly log?: (line: string) => void;
  /**
   * Where the run registers its clean-up as it goes (its servers, its services, its load), for a
   * caller that may abandon it: a spec meeting its vitest timeout runs it in `afterAll`
   * (teardown.ts). The run's own `finally` runs it too; each step runs once.
   */
  readonly teardown?: ChaosTeardown;
}

export interface ChaosResult {
  readonly report: ChaosReport;
  readonly sent: number;
  readonly sendFailures: number;
  readonly webhooks: number;
  readonly faults: readonly string[];
  readonly wallS: number;
}
