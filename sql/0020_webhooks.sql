-- 0020: tenant webhooks (docs/callbacks.md, "Tenant webhooks"). Triggers turn what polls,
-- agents, creates and imports write into events, but only for frontends whose settings have
-- a webhook subscribed to the event; c/cb_webhooks.c moves them into the callback outbox
-- (one signed row per matching webhook) and deletes them in the same transaction. Being
-- written by triggers, an event exists exactly when its change commits, whichever path and
-- instance made it.
CREATE TABLE webhook_events (
    id          bigserial PRIMARY KEY,
    frontend_id uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    event       text NOT NULL CHECK (event IN ('meeting-created', 'meeting-started',
                    'meeting-ended', 'user-joined', 'user-left', 'recording-ready')),
    meeting_id  text NOT NULL,                        -- the frontend's own ID
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,   -- the body's "data"
    -- clock_timestamp: the events of one transaction (an agent's batch) keep their order
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Whether one of the webhooks in settings subscribes to ev: containment is one cheap test
-- whatever the settings hold (a malformed value just does not match).
CREATE FUNCTION b3s_webhook_wants(settings jsonb, ev text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(settings -> 'webhooks'
        @> jsonb_build_array(jsonb_build_object('events', jsonb_build_array(ev))), false)
$$;

-- Queues ev for frontend f when it subscribes to it.
CREATE FUNCTION b3s_webhook_add(f uuid, own_id text, ev text, data jsonb) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO webhook_events (frontend_id, event, meeting_id, payload)
    SELECT id, ev, own_id, data FROM frontends WHERE id = f AND b3s_webhook_wants(settings, ev)
$$;

-- meeting-created: when a node confirmed the create (a claim may still fail and move on, or
-- be dropped), or when a poll adopted a meeting made around the balancer. A failover's
-- re-create on another node is confirmed again, with its new internal ID.
CREATE FUNCTION b3s_webhook_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM b3s_webhook_add(NEW.frontend_id, NEW.meeting_id, 'meeting-created',
        jsonb_build_object('internal_meeting_id', NEW.internal_id,
                           'create_time', NEW.create_time));
    RETURN NULL;
END
$$;
CREATE TRIGGER meetings_webhook_insert AFTER INSERT ON meetings FOR EACH ROW
    WHEN (NEW.confirmed_at IS NOT NULL) EXECUTE FUNCTION b3s_webhook_meeting();
CREATE TRIGGER meetings_webhook_confirm AFTER UPDATE OF confirmed_at ON meetings FOR EACH ROW
    WHEN (OLD.confirmed_at IS NULL AND NEW.confirmed_at IS NOT NULL)
    EXECUTE FUNCTION b3s_webhook_meeting();

-- user-joined or user-left for each attendee of users (a node_meetings attendees object,
-- keyed by BBB's internal user ID) that is not in other.
CREATE FUNCTION b3s_webhook_users(f uuid, own_id text, ev text, internal_id text,
                                  users jsonb, other jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO webhook_events (frontend_id, event, meeting_id, payload)
    SELECT f, ev, own_id, jsonb_build_object('internal_meeting_id', internal_id,
               'user_id', u.key, 'name', coalesce(u.value ->> 'name', ''),
               'role', coalesce(u.value ->> 'role', ''))
    FROM jsonb_each(CASE jsonb_typeof(users) WHEN 'object' THEN users ELSE '{}' END) u
    WHERE NOT other ? u.key ORDER BY u.key
$$;

-- The live view (node_meetings), written by polls and agents alike: meeting-started when the
-- meeting runs (BBB's running: someone joined), user-joined / user-left from the attendees'
-- keys, meeting-ended when the node no longer has it (with a user-left for everyone still
-- in, so every join has its leave). The frontend is the namespace of the node's meeting ID;
-- breakout rooms are named by BBB outside every namespace and are left out.
CREATE FUNCTION b3s_webhook_node_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    nm node_meetings;
    fe frontends;
    own text;
    prev jsonb := '{}'::jsonb;
    ran boolean := false;
BEGIN
    IF TG_OP = 'DELETE' THEN nm := OLD; ELSE nm := NEW; END IF;
    IF nm.is_breakout OR strpos(nm.meeting_id, '~') < 2 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO fe FROM frontends WHERE key = split_part(nm.meeting_id, '~', 1);
    IF NOT FOUND OR NOT (fe.settings ? 'webhooks') THEN
        RETURN NULL;
    END IF;
    own := substr(nm.meeting_id, strpos(nm.meeting_id, '~') + 1);
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
CREATE TRIGGER node_meetings_webhook_insert_delete AFTER INSERT OR DELETE ON node_meetings
    FOR EACH ROW EXECUTE FUNCTION b3s_webhook_node_meeting();
-- voice and camera changes rewrite attendees too; the function finds no key changed
CREATE TRIGGER node_meetings_webhook_update AFTER UPDATE ON node_meetings FOR EACH ROW
    WHEN (OLD.attendees IS DISTINCT FROM NEW.attendees OR OLD.running IS DISTINCT FROM NEW.running)
    EXECUTE FUNCTION b3s_webhook_node_meeting();

-- recording-ready: when a recording is listed (its first import settled, import_state
-- 'done'); later formats and re-imports keep it listed and send nothing.
CREATE FUNCTION b3s_webhook_recording() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM b3s_webhook_add(NEW.frontend_id, NEW.meeting_id, 'recording-ready',
        jsonb_build_object('record_id', NEW.record_id,
            'internal_meeting_id', NEW.internal_meeting_id, 'name', NEW.name,
            'is_breakout', NEW.is_breakout, 'state', NEW.state,
            'start_time', NEW.start_time, 'end_time', NEW.end_time,
            'participants', NEW.participants,
            'formats', coalesce((SELECT jsonb_agg(format ORDER BY format)
                                 FROM recording_formats WHERE recording_id = NEW.id
                                 AND staging IS NULL), '[]'::jsonb)));
    RETURN NULL;
END
$$;
CREATE TRIGGER recordings_webhook_insert AFTER INSERT ON recordings FOR EACH ROW
    WHEN (NEW.import_state = 'done') EXECUTE FUNCTION b3s_webhook_recording();
CREATE TRIGGER recordings_webhook_listed AFTER UPDATE OF import_state ON recordings FOR EACH ROW
    WHEN (OLD.import_state <> 'done' AND NEW.import_state = 'done')
    EXECUTE FUNCTION b3s_webhook_recording();
