// palisade's OpenID provider as a certified relying-party library sees it: openid-client
// (panva, on oauth4webapi) discovers it, runs the code flow with PKCE (checking the ID
// token's signature, nonce, iss, at_hash, and RFC 9207's iss in the authorization
// response), reads UserInfo, refreshes (and sees the rotated token's reuse refused),
// introspects and revokes, and authenticates with client_secret_basic, client_secret_post
// and private_key_jwt (ES256, its own WebCrypto key), for the code flow and for
// client_credentials. The browser's part (signing in, consenting) is done with plain HTTP
// here; the Apache test walks it in Chromium.
// Usage: node openid_client.mjs <palisade binary>   (OPENID_CLIENT may point at the module)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { createServer as netServer } from 'node:net';

const require = createRequire(import.meta.url);
const client = await import(require.resolve(process.env.OPENID_CLIENT || 'openid-client'));
const binary = process.argv[2];
if (!binary) { console.error('usage: node openid_client.mjs <palisade binary>'); process.exit(2); }

function expect(cond, what) { if (!cond) throw new Error('expectation failed: ' + what); }
async function refused(promise, what, check = () => true) {
  try { await promise; } catch (e) { expect(check(e), `${what}: ${e.code} ${e.error} ${e.message}`); return e; }
  throw new Error(`expected a refusal: ${what}`);
}
const freePort = () => new Promise((resolve) => {
  const s = netServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const work = mkdtempSync(join(tmpdir(), 'palisade-oidc-'));
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const redirect = `http://127.0.0.1:${await freePort()}/callback`;
const secret = randomBytes(32).toString('base64url');
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

// private_key_jwt: the client's own key pair; palisade holds only the public half.
const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const publicJwk = { ...(await webcrypto.subtle.exportKey('jwk', keys.publicKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' };

const config = `
listen = "127.0.0.1:${port}"
public_origin = "${origin}"
data_dir = "${join(work, 'data')}"
argon2_memory_kib = 8192
argon2_iterations = 1

[[oidc.clients]]
id = "rp-basic"
name = "Basic RP"
secret_sha256 = "${sha256(secret)}"
redirect_uris = ["${redirect}"]
signing_alg = "ES256"
grant_types = ["authorization_code", "refresh_token", "client_credentials"]

[[oidc.clients]]
id = "rp-post"
name = "RS256 RP"
secret_sha256 = "${sha256(secret)}"
redirect_uris = ["${redirect}"]
first_party = true

[[oidc.clients]]
id = "rp-jwt"
name = "Key RP"
redirect_uris = ["${redirect}"]
signing_alg = "EdDSA"
jwks = '${JSON.stringify({ keys: [publicJwk] })}'
assertion_alg = "ES256"
grant_types = ["authorization_code", "refresh_token", "client_credentials"]
first_party = true
`;
writeFileSync(join(work, 'palisade.toml'), config);
const server = spawn(binary, ['serve', '--config', join(work, 'palisade.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 30000);
  server.stderr.on('data', (chunk) => { log += chunk; if (/listening on \S+\n/.test(log)) { clearTimeout(timer); resolve(); } });
  server.on('exit', (code) => reject(new Error('server exited ' + code + ': ' + log)));
});

let exit = 1;
try {
  // A user, signed in (the session a browser would hold).
  const api = async (path, body, token) => {
    const res = await fetch(origin + path, {
      method: 'POST', headers: { 'content-type': 'application/json', origin, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  };
  expect((await api('/api/v1/register', { username: 'rpuser', email: 'rp@example.com', password: 'gravel orbit violet canteen' })).status === 201, 'registered');
  const login = await api('/api/v1/login', { identifier: 'rpuser', password: 'gravel orbit violet canteen' });
  const cookie = `__Host-palisade-session=${login.json.token}`;

  // The browser's part: follow the authorization URL with the session, consent if asked.
  async function browse(url) {
    let res = await fetch(url, { headers: { cookie }, redirect: 'manual' });
    if (res.status === 200) {
      const page = await res.text();
      const field = (name) => page.split(`name="${name}" value="`)[1].split('"')[0]
        .replaceAll('&#38;', '&').replaceAll('&amp;', '&').replaceAll('&#34;', '"').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&#x27;', "'");
      expect(page.includes('consent-allow'), 'the consent page');
      res = await fetch(`${origin}/oauth2/consent`, {
        method: 'POST', redirect: 'manual',
        headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: field('csrf'), request: field('request'), decision: 'allow' }),
      });
    }
    expect(res.status === 303, `redirected to the app (${res.status})`);
    return new URL(res.headers.get('location'));
  }

  const insecure = { execute: [client.allowInsecureRequests] };
  async function signIn(config, scope = 'openid profile email groups offline_access') {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect, scope, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const back = await browse(url);
    expect(back.searchParams.get('iss') === origin, 'iss in the authorization response');
    return client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  }

  // client_secret_basic, ES256 ID tokens.
  const basic = await client.discovery(new URL(origin), 'rp-basic', { id_token_signed_response_alg: 'ES256' }, client.ClientSecretBasic(secret), insecure);
  expect(basic.serverMetadata().issuer === origin, 'discovery');
  const tokens = await signIn(basic);
  const claims = tokens.claims();
  expect(claims.preferred_username === 'rpuser' && claims.email === 'rp@example.com', 'ID token claims');
  expect(claims.sub && claims.sub !== 'rpuser' && claims.sid && claims.auth_time, 'sub, sid, auth_time');
  const info = await client.fetchUserInfo(basic, tokens.access_token, claims.sub);
  expect(info.preferred_username === 'rpuser' && Array.isArray(info.groups), 'UserInfo');
  await refused(client.fetchUserInfo(basic, tokens.access_token, 'someone-else'), 'UserInfo for another sub');
  // Refresh rotates; the spent token again is reuse: refused, and the family revoked.
  const refreshed = await client.refreshTokenGrant(basic, tokens.refresh_token);
  expect(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated');
  await refused(client.refreshTokenGrant(basic, tokens.refresh_token), 'reused refresh token', (e) => e.error === 'invalid_grant');
  await refused(client.refreshTokenGrant(basic, refreshed.refresh_token), 'the family after reuse', (e) => e.error === 'invalid_grant');
  const dead = await client.tokenIntrospection(basic, refreshed.access_token);
  expect(dead.active === false, 'introspection after reuse');
  // A fresh sign-in: introspection, then revocation.
  const second = await signIn(basic);
  expect((await client.tokenIntrospection(basic, second.access_token)).active === true, 'active');
  await client.tokenRevocation(basic, second.refresh_token);
  expect((await client.tokenIntrospection(basic, second.access_token)).active === false, 'revoked');
  const own = await client.clientCredentialsGrant(basic, { scope: 'groups' });
  expect(own.access_token && !own.refresh_token, 'client_credentials');
  // A wrong secret.
  const wrong = await client.discovery(new URL(origin), 'rp-basic', {}, client.ClientSecretBasic('not-the-secret'), insecure);
  // RFC 6749 §5.2: 401 with a Basic challenge, which the library reports as such.
  await refused(client.clientCredentialsGrant(wrong, {}), 'wrong secret',
    (e) => e.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' && e.status === 401 && e.cause?.[0]?.scheme === 'basic');

  // client_secret_post, RS256 (the OIDC default), first party.
  const post = await client.discovery(new URL(origin), 'rp-post', secret, undefined, insecure);
  const rs = await signIn(post, 'openid email');
  expect(rs.claims().email === 'rp@example.com' && rs.claims().preferred_username === undefined, 'RS256, scopes');

  // private_key_jwt, EdDSA ID tokens.
  const jwt = await client.discovery(new URL(origin), 'rp-jwt', { id_token_signed_response_alg: 'EdDSA' },
    client.PrivateKeyJwt({ key: keys.privateKey, kid: 'rp-key-1' }), insecure);
  const keyed = await signIn(jwt);
  expect(keyed.claims().preferred_username === 'rpuser', 'private_key_jwt sign-in');
  expect((await client.clientCredentialsGrant(jwt, {})).access_token, 'private_key_jwt client_credentials');
  // Someone else's key: refused.
  const other = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const impostor = await client.discovery(new URL(origin), 'rp-jwt', {}, client.PrivateKeyJwt({ key: other.privateKey, kid: 'rp-key-1' }), insecure);
  await refused(client.clientCredentialsGrant(impostor, {}), 'a foreign key', (e) => e.error === 'invalid_client');

  // RP-initiated logout: the URL the library builds, with the ID token as hint.
  const end = client.buildEndSessionUrl(basic, { id_token_hint: second.id_token });
  expect(end.href.startsWith(`${origin}/oauth2/logout?`), 'end_session_endpoint');
  console.log('openid-client: discovery, code + PKCE (ES256, RS256, EdDSA ID tokens), UserInfo, refresh rotation and reuse, introspection, revocation, client_credentials, client_secret_basic/post and private_key_jwt: all passed');
  exit = 0;
} catch (e) {
  console.error(e);
  console.error(log.split('\n').slice(-20).join('\n'));
} finally {
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
process.exit(exit);
