-- 0025: per-frontend secret rotation and the meetings_limit setting.
--
-- previous_secret: while set, BBB API checksums signed with it verify as well as those signed
-- with secret (docs/frontend-settings.md, "Rotating the secret"); NULL when no rotation runs.
-- Callbacks and webhooks are always signed with secret.
ALTER TABLE frontends ADD COLUMN previous_secret text
    CHECK (previous_secret IS NULL OR previous_secret <> '');

-- meetings_limit (docs/frontend-settings.md): may the frontend claim the row of meeting mid
-- while it has lim? True when it has fewer than lim meetings, and when mid has a row already
-- (the claim then finds it taken and the create goes to that meeting: an idempotent create
-- is never refused). The claim (c/db_meetings.c) calls it in the statement that inserts the
-- row. The frontend's claims are serialised on a transaction-scoped advisory lock (first key
-- "b3sm"), taken before anything is read: a VOLATILE function's statements each take a fresh
-- snapshot, so the reads see every claim committed before the lock was granted, and the lock
-- is held until the claim itself commits. Breakout rooms are no rows of meetings (BBB names
-- them itself; they live in node_meetings), so they do not count.
CREATE FUNCTION b3s_meetings_room(fe uuid, mid text, lim integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1647539053, hashtext(fe::text));
    RETURN EXISTS (SELECT 1 FROM meetings WHERE frontend_id = fe AND meeting_id = mid)
        OR (SELECT count(*) FROM meetings WHERE frontend_id = fe) < lim;
END
$$;
