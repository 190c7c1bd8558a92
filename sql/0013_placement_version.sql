-- 0013: a create claims its meeting row only if the placement inputs it chose with are
-- still the database's. Every change that can decide eligibility or a policy's inputs
-- besides counters (the columns 0011 notifies for, a node added or removed) bumps one
-- number; the claim compares it with the number its snapshot was read with, and a create
-- that chose with an older snapshot reads again. The notification of 0011 keeps
-- instances current in the common case; this makes "no create on a stopped node" hold
-- even before another instance's notification has arrived.
CREATE TABLE placement_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    v bigint NOT NULL DEFAULT 0
);
INSERT INTO placement_version DEFAULT VALUES;

CREATE FUNCTION b3s_bump_placement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE placement_version SET v = v + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER backends_placement_update AFTER UPDATE ON backends FOR EACH ROW
    WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.secret IS DISTINCT FROM NEW.secret
          OR OLD.node_state IS DISTINCT FROM NEW.node_state
          OR OLD.admin_state IS DISTINCT FROM NEW.admin_state
          OR OLD.tags IS DISTINCT FROM NEW.tags
          OR OLD.load_factor IS DISTINCT FROM NEW.load_factor
          OR OLD.agent_ref IS DISTINCT FROM NEW.agent_ref)
    EXECUTE FUNCTION b3s_bump_placement();
-- per row: the poller's periodic DELETE of decommissioned nodes mostly deletes none, and a
-- statement trigger would send every create in flight back to read again
CREATE TRIGGER backends_placement_rows AFTER INSERT OR DELETE ON backends
    FOR EACH ROW EXECUTE FUNCTION b3s_bump_placement();
