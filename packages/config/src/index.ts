export { ConfigError } from "./errors.js";
export { loadConfig, type Env, type LoadConfigOptions } from "./load.js";
export { loadConfigOrExit } from "./exit.js";
export { env, infraFields, chassisFields } from "./fields.js";
export {
  roles,
  jsonField,
  apiKeyEntry,
  apiKeyList,
  apiAccessFields,
  checkApiAccess,
  type Role,
} from "./access.js";
export { fileSecretProvider, secretFileOf, type SecretProvider } from "./secrets.js";
export {
  crossFieldProblems,
  kafkaSecurityFields,
  mongoSecurityFields,
  registrySecurityFields,
  SASL_MECHANISMS,
  type SaslMechanismSetting,
} from "./security.js";
