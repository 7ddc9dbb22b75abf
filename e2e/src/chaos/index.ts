export {
  checkHistory,
  formatReport,
  type ChaosHistory,
  type ChaosReport,
  type CheckRow,
} from "./checker.js";
export { runChaos, CHAOS_SECRETS } from "./run.js";
export type { ChaosOptions, ChaosResult } from "./options.js";
export { CHAOS_PRESETS, FAULTS, type FaultName } from "./faults.js";
export { ChaosTeardown, killServerGroups } from "./teardown.js";
