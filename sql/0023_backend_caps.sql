-- 0023: size-aware placement and per-node caps.
--
-- backends.max_meetings / max_attendees: hard caps a node never goes past through placement
-- (NULL: no cap). Typed columns rather than keys in a settings jsonb: the placement snapshot
-- reads them on every refresh next to load_factor (no jsonb parsing per node), the CHECKs
-- keep nonsense out whoever writes (API, b3scalectl, plain SQL), and the triggers below can
-- name them; the admin API shows them next to load_factor, the other placement knob.
--
-- meetings.expected_size: the size a meeting was placed with (the create's
-- meta_bbb-meeting-size-hint, else maxParticipants, else the frontend's history of that
-- meeting ID in meeting_usage); NULL when nothing was known, and then the policy's
-- per-meeting floor (attendee_base) stands for it. Placement reserves it on the node and
-- lets the reservation decay to the reported participants over
-- B3SCALE_RESERVATION_WINDOW_S (policies/README.md, "The load").
ALTER TABLE backends
    ADD COLUMN max_meetings  integer CHECK (max_meetings > 0),
    ADD COLUMN max_attendees integer CHECK (max_attendees > 0);
ALTER TABLE meetings ADD COLUMN expected_size integer CHECK (expected_size >= 0);

-- caps decide eligibility: a change re-reads every instance's snapshot (0011) and makes a
-- pick from an older snapshot pick again (0013)
DROP TRIGGER backends_routes_update ON backends;
CREATE TRIGGER backends_routes_update AFTER UPDATE ON backends FOR EACH ROW
    WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.secret IS DISTINCT FROM NEW.secret
          OR OLD.node_state IS DISTINCT FROM NEW.node_state
          OR OLD.admin_state IS DISTINCT FROM NEW.admin_state
          OR OLD.tags IS DISTINCT FROM NEW.tags
          OR OLD.load_factor IS DISTINCT FROM NEW.load_factor
          OR OLD.agent_ref IS DISTINCT FROM NEW.agent_ref
          OR OLD.max_meetings IS DISTINCT FROM NEW.max_meetings
          OR OLD.max_attendees IS DISTINCT FROM NEW.max_attendees)
    EXECUTE FUNCTION b3s_notify_routes();
DROP TRIGGER backends_placement_update ON backends;
CREATE TRIGGER backends_placement_update AFTER UPDATE ON backends FOR EACH ROW
    WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.secret IS DISTINCT FROM NEW.secret
          OR OLD.node_state IS DISTINCT FROM NEW.node_state
          OR OLD.admin_state IS DISTINCT FROM NEW.admin_state
          OR OLD.tags IS DISTINCT FROM NEW.tags
          OR OLD.load_factor IS DISTINCT FROM NEW.load_factor
          OR OLD.agent_ref IS DISTINCT FROM NEW.agent_ref
          OR OLD.max_meetings IS DISTINCT FROM NEW.max_meetings
          OR OLD.max_attendees IS DISTINCT FROM NEW.max_attendees)
    EXECUTE FUNCTION b3s_bump_placement();
