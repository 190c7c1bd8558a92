-- 0011: placement reads the eligible backends from a snapshot each instance keeps in memory
-- (c/backend_view.c). Whatever decides eligibility or a policy's inputs besides counters (an
-- operator's edit of state, tags or load factor, a new node, an agent attached or removed)
-- now raises the same notification as a routing change, so every instance re-reads at once
-- rather than at its next refresh.
DROP TRIGGER backends_routes_update ON backends;
CREATE TRIGGER backends_routes_update AFTER UPDATE ON backends FOR EACH ROW
    WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.secret IS DISTINCT FROM NEW.secret
          OR OLD.node_state IS DISTINCT FROM NEW.node_state
          OR OLD.admin_state IS DISTINCT FROM NEW.admin_state
          OR OLD.tags IS DISTINCT FROM NEW.tags
          OR OLD.load_factor IS DISTINCT FROM NEW.load_factor
          OR OLD.agent_ref IS DISTINCT FROM NEW.agent_ref)
    EXECUTE FUNCTION b3s_notify_routes();
CREATE TRIGGER backends_routes_insert AFTER INSERT ON backends
    FOR EACH STATEMENT EXECUTE FUNCTION b3s_notify_routes();
