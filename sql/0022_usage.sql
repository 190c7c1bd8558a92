-- 0022: usage accounting, one row per meeting that ran on a node (a BBB meeting instance):
-- what hosting providers bill by, and the size history placement reserves from.
CREATE TABLE meeting_usage (
    id               bigserial PRIMARY KEY,
    frontend_id      uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    -- the frontend's own meeting ID (not the namespaced one)
    meeting_id       text NOT NULL,
    internal_id      text,
    backend_id       uuid REFERENCES backends (id) ON DELETE SET NULL,
    -- kept for the bill when the backend is deleted
    backend_host     text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    -- NULL while the meeting runs
    ended_at         timestamptz,
    peak_attendees   integer NOT NULL DEFAULT 0 CHECK (peak_attendees >= 0),
    attendee_seconds bigint NOT NULL DEFAULT 0 CHECK (attendee_seconds >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- a tenant's month
CREATE INDEX meeting_usage_frontend_time_idx ON meeting_usage (frontend_id, started_at);
-- the last sizes of one meeting ID (placement's history)
CREATE INDEX meeting_usage_history_idx ON meeting_usage (frontend_id, meeting_id, started_at DESC);
