export { startStack, StackUnavailableError, type Stack, type StartStackOptions } from "./stack.js";
export { createNamespace, type Namespace } from "./namespace.js";
export { waitFor, WaitForTimeoutError, type WaitForOptions } from "./wait-for.js";
export {
  deciderSpec,
  type DeciderGiven,
  type DeciderSpecOptions,
  type DeciderWhen,
  type ExpectedEvent,
} from "./decider-spec.js";
export {
  describeStateStore,
  type ContractEvent,
  type ContractState,
  type ContractStore,
} from "./state-store-contract.js";
export {
  accessTableSuite,
  readRepoFile,
  probeAccessTable,
  type AccessCase,
  type AccessMismatch,
} from "./access-table.js";
export {
  createTestPki,
  startHttpsBasicAuthProxy,
  startTlsTunnel,
  type TestPki,
  type TlsFront,
} from "./tls.js";
export {
  freePort,
  startTcpRelay,
  type RelayMode,
  type TcpRelay,
  type TcpRelayOptions,
} from "./tcp-relay.js";
