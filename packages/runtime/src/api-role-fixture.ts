import { createAuthenticator, hashApiKey, roleNames, type Authenticator } from "./api-access.js";
import { declaredAccess, roleTable, type OpenApiAccessDoc } from "./api-roles.js";

/**
 * What an API's role table test needs besides its app (testkit's `accessTableSuite`): one API
 * key per role (`<api>-<role>-key-0123456789`, a test credential, never configured anywhere), an
 * authenticator that knows them, and the document's declared routes and role table. The spec
 * builds its app with `authenticator` and spreads `suite` into the suite's options.
 */
export function roleTableFixture(
  api: string,
  doc: OpenApiAccessDoc,
): {
  readonly authenticator: Authenticator;
  readonly suite: {
    readonly doc: OpenApiAccessDoc;
    readonly declared: typeof declaredAccess;
    readonly table: typeof roleTable;
    readonly roles: typeof roleNames;
    readonly credentialOf: (role: string) => string;
  };
} {
  const credentialOf = (role: string): string => `${api}-${role}-key-0123456789`;
  return {
    authenticator: createAuthenticator({
      api,
      keys: roleNames.map((role) => ({
        id: role,
        keySha256: hashApiKey(credentialOf(role)),
        role,
      })),
    }),
    suite: { doc, declared: declaredAccess, table: roleTable, roles: roleNames, credentialOf },
  };
}
