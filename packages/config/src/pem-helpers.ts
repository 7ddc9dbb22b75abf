// A throwaway self-signed certificate and its key (P-256, 100 years) for the configuration tests;
// nothing trusts it. Made with: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes
export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUA/ulUyN6OyapzPJl/fPwXq8nYzgwCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVUGFybGV5IGNvbmZpZyB0ZXN0IENBMCAXDTI2MTIwNjEyMjMw
MloYDzIxMjYxMTEyMTIyMzAyWjAgMR4wHAYDVQQDDBVQYXJsZXkgY29uZmlnIHRl
c3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASuCSCHRYucMagbMyJZEM8m
M1H+Xj6JR+pppaUg5uUBBzWhXhfdaWJcpDUNuwd3HfnWk5SKxDdcd0Gcd6Fs48Zl
o1MwUTAdBgNVHQ4EFgQUSV2KahevokehMFNcwQYUMrY77jUwHwYDVR0jBBgwFoAU
SV2KahevokehMFNcwQYUMrY77jUwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
AgNIADBFAiEAtaxGIW+G+6yNKIVFK2EtxwEqS9H7iKgYvHlmzZFdbyQCIG9NFWgO
xLghes9ccUelZz7PDvTg2z4uD2XHSvm2wZYh
-----END CERTIFICATE-----`;

export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBTqSdykGknszb5jo
1Z+llf78ModC6Yz3zITJZ0rKkaChRANCAASuCSCHRYucMagbMyJZEM8mM1H+Xj6J
R+pppaUg5uUBBzWhXhfdaWJcpDUNuwd3HfnWk5SKxDdcd0Gcd6Fs48Zl
-----END PRIVATE KEY-----`;
