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
export { PROBLEM_CONTENT_TYPE, apiProblems, sendProblem, type Problem } from "./api-problem.js";
export {
  allScopes,
  createApiKeyring,
  createAuthenticator,
  createJwtVerifier,
  hashApiKey,
  qualify,
  roleNames,
  roleScopes,
  type ApiKeyConfig,
  type AuthRefusal,
  type AuthResult,
  type Authenticator,
  type JwtSettings,
  type Principal,
  type RoleName,
  type ScopeName,
} from "./api-access.js";
export {
  createApiChassis,
  type ApiChassis,
  type ApiChassisOptions,
  type AuditEntry,
  type AuthFailure,
  type DeclaredRoute,
  type HttpMethod,
} from "./api-app.js";
export {
  createPlainOrTlsServer,
  startApiListener,
  tlsFilesOf,
  type ApiListener,
  type ApiListenerOptions,
  type PlainOrTlsServer,
  type TlsFiles,
  type WorkHooks,
} from "./api-listener.js";
export { apiAccessOf, apiAuthenticatorOf, jwtSettingsOf } from "./api-settings.js";
export {
  keyChangeFact,
  keyListParser,
  type KeyAudit,
  type KeyListSchema,
  type KeyReload,
} from "./api-key-files.js";
export {
  createReloadingAuthenticator,
  keyChangeOf,
  keyEntryName,
  isEmptyChange,
  type KeyChange,
  type KeyMaterial,
  type ReloadingAuthenticator,
} from "./key-reload.js";
export {
  declaredAccess,
  roleTable,
  type OpenApiAccessDoc,
  type RoleTableRow,
} from "./api-roles.js";
export { roleTableFixture } from "./api-role-fixture.js";
export { limitHeapGrowth } from "./heap.js";
export { applyCpuNice } from "./priority.js";
