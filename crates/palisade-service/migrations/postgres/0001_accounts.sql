-- Users, sessions, throttling counters, audit events, CSP reports.
-- Times are seconds since the Unix epoch; flags are 0/1 integers (one schema shape for
-- SQLite and PostgreSQL, one set of queries).
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    last_auth_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    client_addr TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    user_id BIGINT,
    subject TEXT,
    client_addr TEXT,
    detail TEXT
);
CREATE INDEX audit_events_at ON audit_events(at);

CREATE TABLE csp_reports (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    client_addr TEXT NOT NULL,
    document_uri TEXT NOT NULL,
    blocked_uri TEXT NOT NULL,
    directive TEXT NOT NULL,
    disposition TEXT NOT NULL,
    source_file TEXT NOT NULL,
    line BIGINT,
    col BIGINT,
    sample TEXT NOT NULL
);
