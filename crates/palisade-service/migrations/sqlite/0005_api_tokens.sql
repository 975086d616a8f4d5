-- Named tokens for scripts (forward-auth and /api/v1/me only). Only the SHA-256 of a token
-- is stored; the token itself is shown once, at creation.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    UNIQUE (user_id, name)
);
