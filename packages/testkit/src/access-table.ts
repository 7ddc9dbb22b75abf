import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The text of a file of this repository (`docs/consent-api.openapi.yaml`), found from the working
 * directory up to the workspace root (the directory with pnpm-workspace.yaml), wherever vitest
 * or a package script runs from.
 */
export function readRepoFile(path: string, from: string = process.cwd()): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return readFileSync(join(dir, path), "utf8");
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
  }
}

/** One operation and role of an API's role table (`roleTable` of @parley/runtime). */
export interface AccessCase {
  readonly method: string;
  /** OpenAPI form: `/v1/media/{id}`. */
  readonly path: string;
  readonly scope: string;
  readonly role: string;
  readonly allowed: boolean;
}

/** What a case answered when it was not what the table says. */
export interface AccessMismatch extends AccessCase {
  readonly status: number;
  readonly body: string;
}

/**
 * Calls every operation as every role against a running API and returns the cases whose answer
 * contradicts the table: an allowed call must pass authentication and the scope check (any
 * status but 401 and 403: the handler may still refuse the input); a refused one must be a 403
 * problem naming the scope. Path parameters are filled with `sample`.
 */
export async function probeAccessTable({
  base,
  cases,
  credentialOf,
  sample = "sample1",
}: {
  readonly base: string;
  readonly cases: readonly AccessCase[];
  readonly credentialOf: (role: string) => string;
  readonly sample?: string;
}): Promise<AccessMismatch[]> {
  const mismatches: AccessMismatch[] = [];
  for (const c of cases) {
    const url = `${base}${c.path.replace(/\{\w+\}/g, sample)}`;
    const res = await fetch(url, {
      method: c.method.toUpperCase(),
      headers: {
        authorization: `Bearer ${credentialOf(c.role)}`,
        "content-type": "application/json",
      },
      ...(c.method === "get" || c.method === "delete" ? {} : { body: "{}" }),
    });
    const body = await res.text();
    const ok = c.allowed
      ? res.status !== 401 && res.status !== 403
      : res.status === 403 &&
        (res.headers.get("content-type") ?? "").startsWith("application/problem+json") &&
        body.includes(c.scope);
    if (!ok) mismatches.push({ ...c, status: res.status, body: body.slice(0, 300) });
  }
  return mismatches;
}

interface RouteLike {
  readonly method: string;
  readonly path: string;
  readonly scope: string;
}

const sorted = (routes: readonly RouteLike[]) =>
  routes
    .map(({ method, path, scope }) => ({ method, path, scope }))
    .sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));

/**
 * The role table suite of one API: the routes its app declares are exactly the document's, with
 * the same scopes; and every operation called as every role answers as the table says.
 */
export function accessTableSuite<D>(
  name: string,
  options: {
    /** The parsed OpenAPI document. */
    readonly doc: D;
    readonly declared: (doc: D) => readonly RouteLike[];
    readonly table: (doc: D) => readonly AccessCase[];
    readonly roles: readonly string[];
    readonly appRoutes: () => readonly RouteLike[];
    readonly start: () => Promise<{ readonly port: number; stop(): Promise<void> }>;
    readonly credentialOf: (role: string) => string;
  },
): void {
  let server: { readonly port: number; stop(): Promise<void> } | undefined;
  beforeAll(async () => {
    server = await options.start();
  });
  afterAll(() => server?.stop());

  describe(`${name}: the role table of its OpenAPI document`, () => {
    it("enforces exactly the scope each operation declares", () => {
      expect(sorted(options.appRoutes())).toEqual(sorted(options.declared(options.doc)));
    });

    it("allows and refuses every operation for every role as the table says", async () => {
      const cases = options.table(options.doc);
      expect(cases.length).toBe(options.declared(options.doc).length * options.roles.length);
      const mismatches = await probeAccessTable({
        base: `http://127.0.0.1:${String(server?.port)}`,
        cases,
        credentialOf: options.credentialOf,
      });
      expect(mismatches).toEqual([]);
    });
  });
}
