export { evolveAll, outputsOf, type Decider, type Keyed } from "./decider.js";
export {
  createCommandHandler,
  type CommandHandler,
  type CommandHandlerObserver,
  type CommandHandlerOptions,
  type ContextLoader,
  type Decision,
  type HandlerStage,
  type Reconsider,
  type RuntimeCommandHandler,
} from "./handler.js";
export {
  exceedsNesting,
  MAX_DOCUMENT_NESTING,
  type Publish,
  type PublishedMark,
  type StateStore,
  type StateWrite,
  type Stored,
} from "./store.js";
export {
  createMemoryStateStore,
  type MemoryRecord,
  type MemoryStateStore,
  type MemoryStateStoreOptions,
} from "./memory-store.js";
export { DecisionConflictError, UnpublishableEventError, UnstorableStateError } from "./errors.js";
