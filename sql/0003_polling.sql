-- 0003: backend polling shared between instances, and node health.
-- An instance claims a due backend by setting poll_lease_until (FOR UPDATE SKIP LOCKED), so
-- no backend is polled twice at once; a crashed instance's leases simply expire.
ALTER TABLE backends
    ADD COLUMN poll_lease_until      timestamptz,
    ADD COLUMN poll_owner            text,
    ADD COLUMN latency_ms            integer,
    ADD COLUMN consecutive_failures  integer NOT NULL DEFAULT 0,
    ADD COLUMN consecutive_successes integer NOT NULL DEFAULT 0;

CREATE INDEX backends_poll_due_idx ON backends (polled_at NULLS FIRST);
