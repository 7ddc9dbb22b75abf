export {
  createKafka,
  createKafkaProbe,
  type KafkaClient,
  type KafkaConnectionOptions,
  type KafkaLogger,
  type BrokerInfo,
} from "./connection.js";
export {
  createRegistry,
  createRegistryProbe,
  SchemaType,
  type RegistryClient,
  type RegistryOptions,
} from "./registry.js";
export { describeRegistryServer } from "./server-info.js";
