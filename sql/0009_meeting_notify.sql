-- 0009: tell every b3scaled instance when a meeting's live state changes (LISTEN
-- b3scale_meetings, the payload is the meeting ID the node knows), so answers of
-- getMeetingInfo/isMeetingRunning kept for reuse (B3SCALE_INFO_CACHE_MS) are dropped at once:
-- an agent's event or a poll that changes a meeting, a meeting moved to another node or gone.
CREATE FUNCTION b3s_notify_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0] names the column holding the node's meeting ID
    PERFORM pg_notify('b3scale_meetings', coalesce(to_jsonb(NEW), to_jsonb(OLD)) ->> TG_ARGV[0]);
    RETURN NULL;
END
$$;

CREATE TRIGGER node_meetings_notify_insert_delete AFTER INSERT OR DELETE ON node_meetings
    FOR EACH ROW EXECUTE FUNCTION b3s_notify_meeting('meeting_id');
CREATE TRIGGER node_meetings_notify_update AFTER UPDATE ON node_meetings FOR EACH ROW
    WHEN (OLD.running IS DISTINCT FROM NEW.running OR OLD.attendees IS DISTINCT FROM NEW.attendees
          OR OLD.meeting_id IS DISTINCT FROM NEW.meeting_id)
    EXECUTE FUNCTION b3s_notify_meeting('meeting_id');

CREATE TRIGGER meetings_notify_update AFTER UPDATE ON meetings FOR EACH ROW
    WHEN (OLD.backend_id IS DISTINCT FROM NEW.backend_id)
    EXECUTE FUNCTION b3s_notify_meeting('backend_meeting_id');
CREATE TRIGGER meetings_notify_delete AFTER DELETE ON meetings
    FOR EACH ROW EXECUTE FUNCTION b3s_notify_meeting('backend_meeting_id');

-- Route notifications name the table that changed: a meeting moved or gone needs only the
-- route caches dropped (its b3scale_meetings notification covers the rest), while a changed
-- frontend or backend (a node turned unavailable leaves every listing) drops kept answers too.
CREATE OR REPLACE FUNCTION b3s_notify_routes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('b3scale_routes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
