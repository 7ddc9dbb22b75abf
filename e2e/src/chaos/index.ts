export {
  checkHistory,
  formatReport,
  type ChaosHistory,
  type ChaosReport,
  type CheckRow,
} from "./checker.js";
export {
  runChaos,
  CHAOS_PRESETS,
  CHAOS_SECRETS,
  FAULTS,
  type ChaosOptions,
  type ChaosResult,
  type FaultName,
} from "./run.js";
