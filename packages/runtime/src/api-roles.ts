import { allScopes, roleNames, roleScopes, type RoleName } from "./api-access.js";
import type { DeclaredRoute, HttpMethod } from "./api-app.js";

const methods: readonly HttpMethod[] = ["get", "post", "put", "patch", "delete"];

/** The part of an OpenAPI document the access rules read. */
export interface OpenApiAccessDoc {
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * Every operation of an OpenAPI document with the scope it declares (`x-parley-scope`) and its
 * audit action (`x-parley-audit`). Throws naming each operation that declares no scope, or one
 * no role could ever hold: an endpoint nobody thought about is refused, not left open.
 */
export function declaredAccess(doc: OpenApiAccessDoc): DeclaredRoute[] {
  const routes: DeclaredRoute[] = [];
  const problems: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of methods) {
      const op = item[method] as Record<string, unknown> | undefined;
      if (op === undefined) continue;
      const scope = op["x-parley-scope"];
      const audit = op["x-parley-audit"];
      if (typeof scope !== "string") {
        problems.push(`${method.toUpperCase()} ${path} declares no x-parley-scope`);
        continue;
      }
      if (!(allScopes as readonly string[]).includes(scope)) {
        problems.push(`${method.toUpperCase()} ${path} declares the unknown scope ${scope}`);
        continue;
      }
      routes.push({ method, path, scope, ...(typeof audit === "string" ? { audit } : {}) });
    }
  }
  if (problems.length > 0) throw new RangeError(problems.join("; "));
  return routes;
}

/** One cell of the role table: may `role` call this operation? */
export interface RoleTableRow extends DeclaredRoute {
  readonly role: RoleName;
  readonly allowed: boolean;
}

/** The role table of a document: every operation for every role, allowed or refused. */
export function roleTable(doc: OpenApiAccessDoc): RoleTableRow[] {
  return declaredAccess(doc).flatMap((route) =>
    roleNames.map((role) => ({
      ...route,
      role,
      allowed: (roleScopes[role] as readonly string[]).includes(route.scope),
    })),
  );
}
