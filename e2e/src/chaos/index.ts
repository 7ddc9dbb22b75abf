export {
  checkHistory,
  formatReport,
  type ChaosHistory,
  type ChaosReport,
  type CheckRow,
} from "./checker.js";
export { runChaos, CHAOS_SECRETS, type ChaosOptions, type ChaosResult } from "./run.js";
export { CHAOS_PRESETS, FAULTS, type FaultName } from "./faults.js";
