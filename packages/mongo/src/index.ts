export { createMongo, type MongoConnection, type MongoOptions } from "./connection.js";
