// The chaos run's faults by name (CHAOS_FAULTS) and its presets (CHAOS_PRESET), docs/reliability.md.
import type { ChaosOptions } from "./options.js";

export const FAULTS = [
  "kill-sender",
  "simulator-5xx",
  "kill-router",
  "graph-delay",
  "kill-ingress",
  "broker-restart",
  "kill-projection",
  "mongo-outage",
  "kill-sender-and-router",
  "kill-broker-node",
] as const;
export type FaultName = (typeof FAULTS)[number];

/** The runs by name (`CHAOS_PRESET`, docs/reliability.md); ports and registry come from the caller. */
export const CHAOS_PRESETS: Readonly<
  Record<
    string,
    Omit<ChaosOptions, "name" | "kafkaPort" | "mongoPort" | "schemaRegistryUrl" | "log">
  >
> = {
  full: {
    sendsPerS: 500,
    webhooksPerS: 200,
    loadS: 240,
    brokerRestart: true,
    mongoOutageS: 30,
    numbers: 4,
    mps: 200,
    contacts: 6_000,
    settleTimeoutS: 900,
  },
  short: {
    sendsPerS: 20,
    webhooksPerS: 10,
    loadS: 40,
    brokerRestart: false,
    mongoOutageS: 10,
    numbers: 2,
    mps: 20,
    contacts: 400,
    settleTimeoutS: 600,
  },
  ci: {
    sendsPerS: 20,
    webhooksPerS: 10,
    loadS: 40,
    brokerRestart: false,
    mongoOutageS: 10,
    numbers: 2,
    mps: 20,
    contacts: 400,
    settleTimeoutS: 240,
    stallS: 90,
    instances: 1,
    faults: ["kill-sender", "simulator-5xx", "kill-router", "mongo-outage"],
  },
  // `make test`'s (e2e/src/chaos.e2e.spec.ts): the ci preset's rates and faults over 20 s of
  // load, about 3-4 minutes in all with the set-up on a two-core machine.
  e2e: {
    sendsPerS: 20,
    webhooksPerS: 10,
    loadS: 20,
    brokerRestart: false,
    mongoOutageS: 10,
    numbers: 2,
    mps: 20,
    contacts: 200,
    settleTimeoutS: 180,
    stallS: 60,
    instances: 1,
    faults: ["kill-sender", "simulator-5xx", "kill-router", "mongo-outage"],
  },
  cluster: {
    sendsPerS: 50,
    webhooksPerS: 20,
    loadS: 60,
    brokerRestart: false,
    mongoOutageS: 10,
    numbers: 2,
    mps: 50,
    contacts: 1_000,
    settleTimeoutS: 600,
    cluster: true,
    faults: ["kill-sender", "simulator-5xx", "kill-broker-node", "kill-router"],
  },
};
