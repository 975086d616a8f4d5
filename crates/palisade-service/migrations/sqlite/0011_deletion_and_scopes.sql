-- Usernames of deleted accounts, reserved until `reserved_until`
-- (`deleted_username_reserved_days`): nobody takes a name soon after its owner left and
-- poses as them to those who knew it. Nothing else of the account is kept here.
CREATE TABLE retired_usernames (
    username TEXT PRIMARY KEY,
    reserved_until BIGINT NOT NULL
);

-- What an API token reaches besides forward-auth and /api/v1/me: '' nothing more (every
-- token made before scopes), 'admin' the admin API while its owner administers.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';

-- The console's groups page (each group and its size) and its members' listing.
CREATE INDEX user_groups_by_name ON user_groups (name, user_id);

-- The user search by prefix: a range scan per column (usernames are stored lowercase,
-- address keys are lowercase; display names are compared lowercased).
CREATE INDEX users_display_name_key ON users (lower(COALESCE(display_name, '')));
