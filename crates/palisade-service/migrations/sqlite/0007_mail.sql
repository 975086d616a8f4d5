-- Mail. The outbox: a message is written in the same transaction as the change it tells
-- of, and sent by a background worker. Its bodies are sealed with the keyring (a reset
-- link is a credential) and erased once sent or given up: afterwards the row keeps that a
-- message went, not what it said. `next_attempt_at` is also the lease of a worker that
-- took it (pushed ahead while it sends), so a crashed worker's message is sent later.
-- `key_id` names the key that sealed it: that key cannot be retired while it waits.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    sealed TEXT,
    key_id TEXT,
    created_at BIGINT NOT NULL,
    discard_after BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    sent_at BIGINT,
    failed_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sealed IS NOT NULL;

-- Password reset links: one per user (a newer request replaces the older), only the
-- SHA-256 of the token stored.
CREATE TABLE password_resets (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Links that prove an address: `verify` (the account's own address) and `change` (a new
-- address, which replaces the old only once confirmed). One of each per user.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (user_id, purpose)
);

ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

-- Browsers each account signed in from (the SHA-256 of a long-lived random cookie), so that
-- a sign-in from a new one can be told to the owner.
CREATE TABLE known_browsers (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    browser_hash TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (user_id, browser_hash)
);
