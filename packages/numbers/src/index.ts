export {
  COEXISTENCE_MPS,
  DEFAULT_MPS,
  DEFAULT_PAIR_PACING,
  MAX_MPS,
  NumberDirectoryError,
  loadNumberDirectory,
  numbersFields,
  parseNumberDirectory,
  type BusinessNumber,
  type NumberDirectory,
  type SenderRef,
} from "./directory.js";
