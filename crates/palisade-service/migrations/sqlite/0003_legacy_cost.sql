-- The bcrypt cost of an imported hash still stored (NULL for palisade's own hashes), so the
-- highest remaining cost is one indexed MAX() instead of a read of every hash.
ALTER TABLE users ADD COLUMN legacy_cost INTEGER;
UPDATE users SET legacy_cost = CAST(substr(password_hash, 5, 2) AS INTEGER)
 WHERE substr(password_hash, 1, 4) IN ('$2a$', '$2b$', '$2y$');
CREATE INDEX users_legacy_cost ON users(legacy_cost);
