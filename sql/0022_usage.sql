-- 0022: usage accounting, one row per meeting that ran on a node (a BBB meeting instance):
-- what hosting providers bill by, and the size history placement reserves from.
--
-- Filled by triggers on the live view (node_meetings), which polls, agents, creates and the
-- end callback all write, so every path and instance counts the same way, in the same
-- transaction as the change (docs/admin-api.md, "Usage"):
--   * an instance starts when the live view first has it (the create's confirmation, an
--     agent's MeetingCreated, or the poll that finds it); breakout rooms are not counted
--     (their users are in the parent meeting's room too);
--   * attendee-seconds are integrated on each change of the attendee count: the count held
--     since counted_at times the time since, then the new count is held. A change costs one
--     row update (and one per hour crossed in meeting_usage_hours); an unchanged poll writes
--     nothing, so nothing fires;
--   * an instance ends when the live view drops it, at the last time its node was seen
--     whole (its last processed poll or agent heartbeat: greatest(counters_at,
--     agent_heartbeat)). So a meeting that ended while b3scaled was stopped, or while its
--     node was unreachable, is billed up to the last time it was seen, not through the gap;
--   * a meeting re-created on another node (failover) is a new instance with its own row;
--     the old one ends at its node's last sighting when the meeting row moves, so nothing is
--     counted twice. A node that comes back still running the old instance does not reopen
--     its row.
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
    -- the integral up to counted_at (exact: the sum of many short intervals must not round)
    attendee_seconds numeric NOT NULL DEFAULT 0 CHECK (attendee_seconds >= 0),
    -- the attendee count held since counted_at (0 once ended)
    attendees        integer NOT NULL DEFAULT 0 CHECK (attendees >= 0),
    counted_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- a tenant's month
CREATE INDEX meeting_usage_frontend_time_idx ON meeting_usage (frontend_id, started_at);
-- the last sizes of one meeting ID (placement's history)
CREATE INDEX meeting_usage_history_idx ON meeting_usage (frontend_id, meeting_id, started_at DESC);
-- the running instance of a live view row: at most one
CREATE UNIQUE INDEX meeting_usage_open_idx ON meeting_usage (internal_id, backend_id)
    WHERE ended_at IS NULL;

-- The same integral by UTC hour, so a report's range cuts a meeting exactly at whole hours
-- (and prorates inside one). One row per instance and hour with attendees.
CREATE TABLE meeting_usage_hours (
    usage_id         bigint NOT NULL REFERENCES meeting_usage (id) ON DELETE CASCADE,
    hour             timestamptz NOT NULL,
    attendee_seconds numeric NOT NULL CHECK (attendee_seconds >= 0),
    PRIMARY KEY (usage_id, hour)
);

-- The attendee count of a live view row (its attendees object has one key per user).
CREATE FUNCTION b3s_usage_count(a jsonb) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'object'
                THEN (SELECT count(*)::int FROM jsonb_object_keys(a)) ELSE 0 END
$$;

-- When backend b's live view was last known whole: its last processed poll (counters_at)
-- or its agent's last heartbeat; NULL for a backend that is gone.
CREATE FUNCTION b3s_usage_seen(b uuid) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT greatest(counters_at, agent_heartbeat) FROM backends WHERE id = b);
END
$$;

-- The UTC hour t falls in (independent of the session's time zone).
CREATE FUNCTION b3s_usage_hour(t timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT to_timestamp(floor(extract(epoch FROM t) / 3600) * 3600)
$$;

-- The seconds of [a, b) that lie in [f, t).
CREATE FUNCTION b3s_usage_overlap(a timestamptz, b timestamptz, f timestamptz, t timestamptz)
    RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT greatest(0, extract(epoch FROM least(b, t) - greatest(a, f)))
$$;

-- Integrates n attendees over [t0, t1) into usage row u's hours; returns the seconds for
-- its total, which the caller adds in its own update of the row. (PL/pgSQL,
-- as are the others run per change: their plans are kept for the session, where an SQL
-- function's are made again on every call.)
CREATE FUNCTION b3s_usage_add(u bigint, n integer, t0 timestamptz, t1 timestamptz)
    RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    h timestamptz := b3s_usage_hour(t0);
BEGIN
    IF n <= 0 OR t1 <= t0 THEN
        RETURN 0;
    END IF;
    LOOP
        INSERT INTO meeting_usage_hours AS x (usage_id, hour, attendee_seconds)
        VALUES (u, h, n * b3s_usage_overlap(t0, t1, h, h + interval '1 hour'))
        ON CONFLICT (usage_id, hour) DO UPDATE
            SET attendee_seconds = x.attendee_seconds + EXCLUDED.attendee_seconds;
        h := h + interval '1 hour';
        EXIT WHEN h >= t1;
    END LOOP;
    RETURN n * extract(epoch FROM t1 - t0);
END
$$;

-- Ends the running instance(s) of internal ID iid on backend b (or on a backend since
-- deleted), at seen (when its node was last seen whole), never before its last count and
-- never in the future; without seen, now.
CREATE FUNCTION b3s_usage_close(b uuid, iid text, seen timestamptz) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    u meeting_usage;
    t timestamptz;
BEGIN
    FOR u IN SELECT * FROM meeting_usage
             WHERE internal_id = iid AND (backend_id = b OR backend_id IS NULL)
               AND ended_at IS NULL FOR UPDATE LOOP
        t := greatest(u.counted_at, least(now(), coalesce(seen, now())));
        UPDATE meeting_usage SET attendee_seconds = attendee_seconds
                + b3s_usage_add(u.id, u.attendees, u.counted_at, t),
            attendees = 0, counted_at = t, ended_at = t, updated_at = now()
        WHERE id = u.id;
    END LOOP;
END
$$;

-- The live view changed: a new instance starts, a count changes, or an instance is gone.
-- A frontend's meetings are the node IDs in its namespace ("<key>~<own ID>").
CREATE FUNCTION b3s_usage_node_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    obs timestamptz;
    u meeting_usage;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM b3s_usage_close(OLD.backend_id, OLD.internal_id, b3s_usage_seen(OLD.backend_id));
        RETURN NULL;
    END IF;
    IF NEW.is_breakout OR NEW.parent_id IS NOT NULL OR strpos(NEW.meeting_id, '~') < 2 THEN
        RETURN NULL;
    END IF;
    n := b3s_usage_count(NEW.attendees);
    -- the observation's time: a poll's snapshot is dated when the node was asked
    obs := least(NEW.updated_at, now());
    SELECT * INTO u FROM meeting_usage
     WHERE internal_id = NEW.internal_id AND backend_id = NEW.backend_id AND ended_at IS NULL
     FOR UPDATE;
    IF FOUND THEN
        obs := greatest(obs, u.counted_at);
        UPDATE meeting_usage SET attendee_seconds = attendee_seconds
                + b3s_usage_add(u.id, u.attendees, u.counted_at, obs),
            attendees = n, peak_attendees = greatest(peak_attendees, n),
            counted_at = obs, updated_at = now()
        WHERE id = u.id;
    ELSIF TG_OP = 'INSERT' THEN
        -- only a new row of the live view starts an instance: an update of one whose
        -- instance was ended (its meeting moved to another node) does not reopen it
        INSERT INTO meeting_usage (frontend_id, meeting_id, internal_id, backend_id,
            backend_host, started_at, attendees, peak_attendees, counted_at)
        SELECT f.id, substr(NEW.meeting_id, strpos(NEW.meeting_id, '~') + 1), NEW.internal_id,
               NEW.backend_id, b.host, obs, n, n, obs
        FROM frontends f JOIN backends b ON b.id = NEW.backend_id
        WHERE f.key = split_part(NEW.meeting_id, '~', 1)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER node_meetings_usage_insert_delete AFTER INSERT OR DELETE ON node_meetings
    FOR EACH ROW EXECUTE FUNCTION b3s_usage_node_meeting();
-- only a changed count costs anything (voice and camera changes rewrite attendees too)
CREATE TRIGGER node_meetings_usage_update AFTER UPDATE OF attendees ON node_meetings
    FOR EACH ROW WHEN (OLD.attendees IS DISTINCT FROM NEW.attendees
                       AND b3s_usage_count(OLD.attendees) <> b3s_usage_count(NEW.attendees))
    EXECUTE FUNCTION b3s_usage_node_meeting();

-- A meeting re-created on another node (its row moved): the instance on the old node ends
-- when that node was last seen, whatever becomes of its live view row.
CREATE FUNCTION b3s_usage_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM b3s_usage_close(u.backend_id, u.internal_id, b3s_usage_seen(OLD.backend_id))
    FROM meeting_usage u
    WHERE u.frontend_id = OLD.frontend_id AND u.meeting_id = OLD.meeting_id
      AND u.backend_id = OLD.backend_id AND u.ended_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER meetings_usage_moved AFTER UPDATE OF backend_id ON meetings FOR EACH ROW
    WHEN (OLD.backend_id IS NOT NULL AND OLD.backend_id IS DISTINCT FROM NEW.backend_id)
    EXECUTE FUNCTION b3s_usage_moved();

-- Meetings already running when this is applied start counting now.
INSERT INTO meeting_usage (frontend_id, meeting_id, internal_id, backend_id, backend_host,
    attendees, peak_attendees)
SELECT f.id, substr(nm.meeting_id, strpos(nm.meeting_id, '~') + 1), nm.internal_id,
       nm.backend_id, b.host, b3s_usage_count(nm.attendees), b3s_usage_count(nm.attendees)
FROM node_meetings nm
JOIN frontends f ON f.key = split_part(nm.meeting_id, '~', 1)
JOIN backends b ON b.id = nm.backend_id
WHERE NOT nm.is_breakout AND nm.parent_id IS NULL AND strpos(nm.meeting_id, '~') > 1;
