export {
  createKafka,
  createKafkaProbe,
  checkKafkaAccess,
  createProducer,
  checkGroupSettings,
  defaultGroupSettings,
  groupInstanceIdOf,
  type GroupSettings,
  type KafkaClient,
  type KafkaConnectionOptions,
  type KafkaLogger,
  type BrokerInfo,
} from "./connection.js";
export {
  createKafkaHealth,
  type HealthEntry,
  type HealthReporter,
  type HealthState,
  type KafkaHealth,
} from "./health.js";
export {
  createRegistry,
  createRegistryProbe,
  registryAccessProblem,
  RegistryHttpError,
  SchemaType,
  type RegistryClient,
  type RegistryOptions,
} from "./registry.js";
export { describeRegistryServer } from "./server-info.js";
export {
  ParleyKafkaError,
  PoisonRecordError,
  InvalidEventError,
  SchemaNotRegisteredError,
  isOutage,
  isRetriable,
  retryOf,
} from "./errors.js";
export { ProduceError, RecordTooLargeError, produceRetryOf } from "./produce-errors.js";
export { defaultRetryPolicy, type RetryPolicy } from "./backoff.js";
export { createSerde, type Serde } from "./serde.js";
export {
  createEventProducer,
  type EncodedEvent,
  type EventProducer,
  type OutgoingEvent,
} from "./producer.js";
export type { ProduceBatchLimits, ProduceRecovery } from "./produce-batcher.js";
export { createCatalogPublisher, publishEvents } from "./publish-events.js";
export { createRecordProducer, type RecordProducer } from "./record-producer.js";
export { singleRecordBatchBytes } from "./record-size.js";
export {
  createConsumerRunner,
  type CommittedOutputs,
  type ConsumerRunner,
  type ConsumerRunnerOptions,
  type SideTask,
  type ConsumedRecord,
  type OutputRecord,
  type RawRecord,
  type RecordContext,
  type RunnerStats,
  type DeadLetterInfo,
  type TransactionalMode,
} from "./runner.js";
export { decodeCompleted, encodeCompleted } from "./completed-offsets.js";
export { KeyedQueue } from "./keyed-queue.js";
export { partitionOfKey } from "./partition.js";
export { createEventConsumer, type EventConsumerOptions } from "./event-consumer.js";
export { PROMPT_COMMIT_INTERVAL_MS } from "./runner-types.js";
export { provisionTopics, type ProvisionReport, type Drift } from "./provision.js";
export { redrive, type RedriveOptions, type RedriveReport } from "./redrive.js";
export { traceHeaders, extractContext } from "./tracing.js";
export { setConsumerSpansExported } from "./tracing.js";
export type { KafkaObserver } from "./observer.js";
export {
  createAuditPublisher,
  publishAuditFact,
  type AuditFact,
  type AuditInput,
} from "./audit-publisher.js";
export {
  kafkaAccessProblem,
  kafkaSaslOptions,
  kafkaTlsOptions,
  tlsProblem,
  KafkaTokenError,
  type KafkaSasl,
  type KafkaSecurity,
  type KafkaTls,
  type OAuthTokenSource,
  type TlsSettingNames,
} from "./security.js";
export {
  kafkaSecurityOf,
  registryOptionsOf,
  type KafkaSecurityConfig,
  type RegistryConfig,
} from "./security-config.js";
