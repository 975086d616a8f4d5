-- Groups a user belongs to, for the forward-auth rules' `group:NAME` subjects. Names are
-- checked by the service (lowercase letters, digits, '-', '_', '.'; at most 64).
CREATE TABLE user_groups (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
