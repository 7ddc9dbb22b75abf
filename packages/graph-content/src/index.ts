export {
  graphMessageOf,
  interactiveOf,
  templateOf,
  type GraphContent,
  type GraphInteractive,
  type GraphMessage,
  type GraphMessageInput,
  type ProductSection,
} from "./graph-message.js";
export { checkGraphMessage, checkedGraphMessage } from "./check.js";
