export {
  runReadiness,
  type ReadinessCheck,
  type CheckResult,
  type ReadinessReport,
} from "./readiness.js";
export {
  startOpsServer,
  bearerMatches,
  type OpsServer,
  type OpsServerOptions,
} from "./ops-server.js";
export {
  runService,
  type ChassisLogger,
  type Component,
  type Started,
  type RunServiceOptions,
  type RunningService,
} from "./run-service.js";
export {
  runStandardService,
  kafkaGroupSettings,
  type StandardConfig,
  type StandardServiceOptions,
  type Dependencies,
} from "./standard.js";
