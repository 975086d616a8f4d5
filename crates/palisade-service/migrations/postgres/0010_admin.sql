-- The admin API's audit-log filters: each reads its events newest first from an index of
-- its own, so a page costs the same on a million events as on a thousand.
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_event ON audit_events (event, id);
CREATE INDEX audit_events_client ON audit_events (client_addr, id);
