export const SIMULATOR_VERSION = "0.1.0";
