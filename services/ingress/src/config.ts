import { chassisFields, env, infraFields } from "@parley/config";
import { z } from "zod";

/** Every variable ingress reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z.object({
  ...infraFields,
  ...chassisFields,
  HTTP_PORT: env.port(8080),
});

export type Config = z.infer<typeof configSchema>;
