-- The vault: each user's named secrets, sealed (XChaCha20-Poly1305) under a named key, with
-- the owner and the name as associated data. key_id lets re-encryption and key retirement
-- count what depends on each key without opening anything.
CREATE TABLE secrets (
    owner_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sealed TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, name)
);
CREATE INDEX secrets_key ON secrets(key_id);
