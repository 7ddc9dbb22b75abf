import { MongoClient } from "mongodb";
const c = new MongoClient("mongodb://127.0.0.1:59217/?directConnection=true", { serverSelectionTimeoutMS: 20000 });
await c.connect();
const dbs = await c.db().admin().listDatabases();
for (const d of dbs.databases) {
  if (!d.name.includes("bench-consent")) continue;
  const db = c.db(d.name);
  const n = await db.collection("consent_ledgers").estimatedDocumentCount();
  const agg = await db.collection("consent_ledgers").aggregate([{ $project: { n: { $size: "$entries" } } }, { $group: { _id: null, total: { $sum: "$n" } } }]).toArray();
  console.log(new Date().toISOString(), "ledgers", n, "entries", JSON.stringify(agg));
}
await c.close();
