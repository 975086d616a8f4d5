-- The OpenID Connect provider. Every secret is kept as its SHA-256 (client secrets, codes,
-- refresh tokens: each 256 bits of randomness, so a slow hash would add nothing), and the
-- signing keys' private parts are sealed by the keyring.

-- Clients made with `palisade oidc client add` (those of the configuration file are not
-- stored): their settings as JSON, the same fields as `[[oidc.clients]]`.
CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    secret_hash TEXT,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The stable, opaque `sub` of each user (never the username, which can change).
CREATE TABLE oidc_subjects (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    subject TEXT NOT NULL UNIQUE
);

-- Provider-wide values made once (the pairwise-subject salt).
CREATE TABLE oidc_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Signing keys, one series per algorithm. A key is published from `created_at`, signs
-- from `signs_from` (later, so caches of the key set have it first), stops signing when
-- its successor starts, and leaves the key set at `retire_at`. `generation` is unique per
-- algorithm: of instances rotating at once, one inserts.
CREATE TABLE oidc_signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    generation BIGINT NOT NULL,
    private_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL,
    retire_at BIGINT,
    UNIQUE (alg, generation)
);

-- What each user let each app learn (scopes, space-separated).
CREATE TABLE oidc_consents (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One sign-in of a user to a client: every code, access and refresh token issued from it
-- belongs to it, so one revocation ends them all. Without `offline`, it lives only as long
-- as the session that made it. `logout_done`: a back-channel logout was queued for it (or
-- none was due) after its session ended.
CREATE TABLE oidc_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    offline INTEGER NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    second_factor INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    redeemed INTEGER NOT NULL DEFAULT 0,
    logout_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oidc_grants_user ON oidc_grants (user_id, client_id);
CREATE INDEX oidc_grants_session ON oidc_grants (session_id);
CREATE INDEX oidc_grants_logout_due ON oidc_grants (session_id) WHERE logout_done = 0;

CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    nonce TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);

-- Refresh tokens, rotated at every use: a used one presented again revokes its grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);

-- `jti`s of client assertions (private_key_jwt) seen, until they expire: each is used once,
-- across every instance.
CREATE TABLE oidc_assertions (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

-- Back-channel logout tokens to deliver, like the mail outbox: leased, retried, given up.
CREATE TABLE oidc_logouts (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    sent_at BIGINT,
    given_up_at BIGINT,
    last_error TEXT
);
CREATE INDEX oidc_logouts_due ON oidc_logouts (next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;
