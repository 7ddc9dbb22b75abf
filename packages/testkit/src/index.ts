export { startStack, StackUnavailableError, type Stack, type StartStackOptions } from "./stack.js";
export { createNamespace, type Namespace } from "./namespace.js";
export { waitFor, WaitForTimeoutError, type WaitForOptions } from "./wait-for.js";
