/**
 * What the schema registry says it is: Confluent's `GET /v1/metadata/version`, or Apicurio's
 * system info when the URL is Apicurio's Confluent-compatible path (…/apis/ccompat/v7).
 */
export async function describeRegistryServer(url: string, signal?: AbortSignal): Promise<string> {
  const base = url.replace(/\/+$/, "");
  const apicurio = /^(.*)\/apis\/ccompat\/v\d+$/.exec(base);
  if (apicurio) {
    const response = await fetch(
      `${apicurio[1] ?? ""}/apis/registry/v3/system/info`,
      signal ? { signal } : {},
    );
    if (response.ok) {
      const info = (await response.json()) as { name?: string; version?: string };
      return `${info.name ?? "Apicurio Registry"} ${info.version ?? "?"} (Confluent API at ${base})`;
    }
  }
  const response = await fetch(`${base}/v1/metadata/version`, signal ? { signal } : {});
  if (response.ok) {
    const info = (await response.json()) as { version?: string };
    return `Confluent Schema Registry ${info.version ?? "?"}`;
  }
  return `unknown Confluent-compatible registry at ${base}`;
}
