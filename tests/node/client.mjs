// An independent Node client of m2m-auth: fetches a token with the client credentials
// grant (client_secret_basic) and verifies it with jose through the discovery
// document's jwks_uri. Exits non-zero on any failure.
// Environment: M2M_BASE_URL, M2M_CLIENT_ID, M2M_CLIENT_SECRET, M2M_AUDIENCE.
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const { M2M_BASE_URL: base, M2M_CLIENT_ID: id, M2M_CLIENT_SECRET: secret, M2M_AUDIENCE: audience } = process.env;

const meta = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
assert.equal(meta.issuer, base);
assert.ok(meta.token_endpoint_auth_methods_supported.includes('client_secret_basic'));

// RFC 6749 §2.3.1: form-urlencode id and secret before base64.
const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
const response = await fetch(meta.token_endpoint, {
  method: 'POST',
  headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials', audience }),
});
assert.equal(response.status, 200, await response.clone().text());
assert.equal(response.headers.get('cache-control'), 'no-store');
const token = await response.json();

const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
const { payload, protectedHeader } = await jwtVerify(token.access_token, jwks, {
  issuer: meta.issuer,
  audience,
  typ: 'at+jwt',
  algorithms: ['RS256', 'ES256'],
});
assert.equal(payload.client_id, id);
assert.equal(payload.scope, 'read:orders write:orders');
console.log(`node: verified ${protectedHeader.alg} token for ${payload.sub}`);
