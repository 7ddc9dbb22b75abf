// For a standalone run (no `make dev`): create Parley's topics and register their schemas,
// exactly as `make dev` does with `parley-kafka provision`. Safe to run again.
import { createCatalog } from "@parley/contracts";
import { createKafka, createRegistry, createSerde, provisionTopics } from "@parley/kafka";
import { serverEnv } from "./env.js";

const { brokers, schemaRegistryUrl, prefix } = serverEnv();
const catalog = createCatalog({ prefix });
const report = await provisionTopics({
  kafka: createKafka({ brokers: brokers.split(","), clientId: "orders-provision" }),
  topics: catalog.topics,
  serde: createSerde({ registry: createRegistry({ url: schemaRegistryUrl }) }),
});
console.log(
  `topics: ${report.created.length} created, ${report.verified.length} verified; ${report.schemas.length} schemas registered`,
);
for (const { topic, problem } of report.drift) console.log(`drift: ${topic}: ${problem}`);
