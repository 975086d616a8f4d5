-- Second factors. A TOTP secret is stored sealed with the keyring (`key_id` names the key,
-- for `keys reencrypt`); `last_step` is the last time step accepted, so that a code is
-- accepted once. A factor counts only once `confirmed_at` is set (after its first code).
CREATE TABLE second_factors (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sealed TEXT,
    key_id TEXT,
    last_step BIGINT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_at BIGINT,
    UNIQUE (user_id, name)
);

-- Single-use recovery codes: the first characters (`selector`) in clear to find the row,
-- the whole code only as a password hash.
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    selector TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, selector)
);

-- A login whose password was right and whose second step is still to come: not a session
-- (nothing but the second step reads this table). Only the SHA-256 of its token is stored.
CREATE TABLE pending_logins (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    guesses BIGINT NOT NULL DEFAULT 0,
    client_addr TEXT NOT NULL,
    user_agent TEXT NOT NULL
);

-- 1 when the session began with a second factor (or its user proved one since): what the
-- forward-auth policy `two_factor` and `require_second_factor` ask for.
ALTER TABLE sessions ADD COLUMN second_factor BIGINT NOT NULL DEFAULT 0;

-- Passkeys: the credential as webauthn-rs keeps it (public key, not secret), its id (unique:
-- one credential belongs to one account) and its signature counter, moved only forward.
ALTER TABLE second_factors ADD COLUMN credential_id TEXT;
ALTER TABLE second_factors ADD COLUMN passkey TEXT;
ALTER TABLE second_factors ADD COLUMN sign_count BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX second_factors_credential_id ON second_factors (credential_id);

-- The random handle passkeys know a user by (never the id, name or email).
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;
CREATE UNIQUE INDEX users_webauthn_handle ON users (webauthn_handle);

-- Outstanding WebAuthn challenges, one per binding: `reg:<session id>` (adding a passkey),
-- `step:<pending login token hash>` (a second step), `login:<token hash>` (a passkey
-- sign-in, bound to its browser by a cookie). Taken by a DELETE: each is used once.
CREATE TABLE webauthn_challenges (
    binding TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    name TEXT,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
