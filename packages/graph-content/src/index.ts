export {
  graphMessageOf,
  interactiveOf,
  templateOf,
  type GraphContent,
  type GraphInteractive,
  type GraphMessage,
  type GraphMessageInput,
} from "./graph-message.js";
export { checkGraphMessage, checkedGraphMessage } from "./check.js";
