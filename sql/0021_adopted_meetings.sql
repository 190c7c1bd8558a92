-- 0021: meetings adopted under a node ID of their own (POST /api/v1/meetings, b3scalectl
-- import b3scale: b3scale's base64url IDs, or an old raw ID). Their node ID lies outside
-- every "<key>~" namespace, so the frontend is found through the meetings row instead.

-- getMeetings (c/db_live.c) lists a frontend's adopted meetings through this index: it holds
-- only rows whose node ID has no '~' (the admin API refuses one in another namespace), so
-- the lookup stays a few entries however many meetings a frontend has.
CREATE INDEX meetings_adopted_idx ON meetings (frontend_id)
    WHERE strpos(backend_meeting_id, '~') = 0;

-- 0020's webhook trigger on the live view, now also for adopted meetings: a node ID outside
-- every namespace is looked up in meetings.backend_meeting_id (unique, one index probe) and
-- reported under the row's meeting_id, the frontend's own. A poll removes node_meetings
-- before it drops the row, so meeting-ended still finds it.
CREATE OR REPLACE FUNCTION b3s_webhook_node_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    nm node_meetings;
    fe frontends;
    fid uuid;
    own text;
    prev jsonb := '{}'::jsonb;
    ran boolean := false;
BEGIN
    IF TG_OP = 'DELETE' THEN nm := OLD; ELSE nm := NEW; END IF;
    IF nm.is_breakout THEN
        RETURN NULL;
    END IF;
    IF strpos(nm.meeting_id, '~') >= 2 THEN
        SELECT * INTO fe FROM frontends WHERE key = split_part(nm.meeting_id, '~', 1);
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        own := substr(nm.meeting_id, strpos(nm.meeting_id, '~') + 1);
    ELSE
        SELECT m.frontend_id, m.meeting_id INTO fid, own FROM meetings m
            WHERE m.backend_meeting_id = nm.meeting_id;
        IF NOT FOUND THEN
            RETURN NULL;   -- made around the balancer: the nodes' business
        END IF;
        SELECT * INTO fe FROM frontends WHERE id = fid;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    IF NOT (fe.settings ? 'webhooks') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        prev := OLD.attendees;
        ran := OLD.running;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF b3s_webhook_wants(fe.settings, 'user-left') THEN
            PERFORM b3s_webhook_users(fe.id, own, 'user-left', nm.internal_id, OLD.attendees,
                                      '{}'::jsonb);
        END IF;
        PERFORM b3s_webhook_add(fe.id, own, 'meeting-ended', jsonb_build_object(
            'internal_meeting_id', nm.internal_id, 'name', nm.name));
        RETURN NULL;
    END IF;
    IF NEW.running AND NOT ran THEN
        PERFORM b3s_webhook_add(fe.id, own, 'meeting-started', jsonb_build_object(
            'internal_meeting_id', nm.internal_id, 'name', nm.name));
    END IF;
    IF b3s_webhook_wants(fe.settings, 'user-left') THEN
        PERFORM b3s_webhook_users(fe.id, own, 'user-left', nm.internal_id, prev, NEW.attendees);
    END IF;
    IF b3s_webhook_wants(fe.settings, 'user-joined') THEN
        PERFORM b3s_webhook_users(fe.id, own, 'user-joined', nm.internal_id, NEW.attendees, prev);
    END IF;
    RETURN NULL;
END
$$;
