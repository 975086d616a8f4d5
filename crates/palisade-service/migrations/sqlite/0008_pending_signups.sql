-- Sign-ups by mailed link (`signup_by_link`): the account is made only when the link is
-- used, so the answer to a sign-up never tells whether its address has an account. The
-- row reserves its username meanwhile — for an address that has an account too, whose
-- owner is told instead of being sent a link — so the username does not tell either.
-- Only the SHA-256 of the link's token is kept.
CREATE TABLE pending_signups (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_signups_expiry ON pending_signups (expires_at);
