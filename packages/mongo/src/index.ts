export {
  createMongo,
  mongoAccessProblem,
  mongoSecurityOptions,
  type MongoConnection,
  type MongoOptions,
} from "./connection.js";
export { guardStore, mongoRetryOf, StoreError } from "./errors.js";
export {
  createMongoStateStore,
  STATE_DOCUMENT_FIELDS,
  type MongoStateStoreOptions,
  type StateDocument,
} from "./state-store.js";
