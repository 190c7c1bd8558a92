-- 0007: tell every b3scaled instance when something a join is routed by changes, so each can
-- cache routes in memory and drop them at once (LISTEN b3scale_routes). Polls rewrite
-- counters and run their DELETEs constantly: only rows whose routing columns change raise a
-- notification (a transaction's identical notifications are delivered once).
CREATE FUNCTION b3s_notify_routes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('b3scale_routes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER frontends_routes AFTER INSERT OR UPDATE OR DELETE ON frontends
    FOR EACH STATEMENT EXECUTE FUNCTION b3s_notify_routes();

CREATE TRIGGER backends_routes_update AFTER UPDATE ON backends FOR EACH ROW
    WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.secret IS DISTINCT FROM NEW.secret
          OR OLD.node_state IS DISTINCT FROM NEW.node_state)
    EXECUTE FUNCTION b3s_notify_routes();
CREATE TRIGGER backends_routes_delete AFTER DELETE ON backends
    FOR EACH ROW EXECUTE FUNCTION b3s_notify_routes();

CREATE TRIGGER meetings_routes_update AFTER UPDATE ON meetings FOR EACH ROW
    WHEN (OLD.backend_id IS DISTINCT FROM NEW.backend_id
          OR OLD.backend_meeting_id IS DISTINCT FROM NEW.backend_meeting_id)
    EXECUTE FUNCTION b3s_notify_routes();
CREATE TRIGGER meetings_routes_delete AFTER DELETE ON meetings
    FOR EACH ROW EXECUTE FUNCTION b3s_notify_routes();
