export { createMongo, type MongoConnection, type MongoOptions } from "./connection.js";
export { guardStore, mongoRetryOf, StoreError } from "./errors.js";
