export {
  readinessOf,
  runChecks,
  runReadiness,
  type ComponentStatus,
  type CheckResult,
  type LifePhase,
  type ReadinessCheck,
  type ReadinessReport,
  type ReadinessState,
  type StatusSource,
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
  type StartContext,
  type RunServiceOptions,
  type RunningService,
} from "./run-service.js";
export {
  runStandardService,
  kafkaGroupSettings,
  mongoSecurityOf,
  type MongoSecurityConfig,
  type StandardConfig,
  type StandardServiceOptions,
  type Dependencies,
} from "./standard.js";
export {
  createKafkaMetrics,
  type KafkaMetrics,
  type KafkaMetricsOptions,
} from "./kafka-metrics.js";
export { limitHeapGrowth } from "./heap.js";
