-- 0005: live node state reported by b3scaleagent (and mirrored by polls).
-- node_meetings is what a node runs right now, whoever created it (our meetings, breakout
-- rooms, meetings made around the balancer); attendees maps BBB's internal user id to
-- {"role", "voice", "listen", "video"} so joins and leaves never double count.
ALTER TABLE backends
    ADD COLUMN agent_heartbeat timestamptz,
    ADD COLUMN agent_cpu       real,
    ADD COLUMN agent_mem       real,
    ADD COLUMN counters_at     timestamptz;

CREATE TABLE node_meetings (
    backend_id   uuid NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
    internal_id  text NOT NULL,
    meeting_id   text NOT NULL,
    name         text NOT NULL DEFAULT '',
    running      boolean NOT NULL DEFAULT false,
    is_breakout  boolean NOT NULL DEFAULT false,
    attendees    jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (backend_id, internal_id)
);

-- Recomputes a backend's counters and its meeting rows from node_meetings. Used after an
-- agent's events and after a full state report, so both paths count the same way.
CREATE FUNCTION b3s_refresh_node(b uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE backends SET
        meetings_count = s.meetings, attendees_count = s.attendees, video_count = s.video,
        voice_count = s.voice, listener_count = s.listeners, counters_at = now(),
        updated_at = now()
    FROM (SELECT count(*)::int AS meetings,
                 coalesce(sum(a.n), 0)::int AS attendees, coalesce(sum(a.video), 0)::int AS video,
                 coalesce(sum(a.voice), 0)::int AS voice, coalesce(sum(a.listen), 0)::int AS listeners
          FROM node_meetings nm
          CROSS JOIN LATERAL (
              SELECT count(*) AS n,
                     sum(coalesce((v->>'video')::int, 0)) AS video,
                     count(*) FILTER (WHERE (v->>'voice')::boolean) AS voice,
                     count(*) FILTER (WHERE (v->>'listen')::boolean) AS listen
              FROM jsonb_each(nm.attendees) AS e(k, v)) a
          WHERE nm.backend_id = b) s
    WHERE id = b;
    UPDATE meetings m SET
        running = nm.running,
        participants = (SELECT count(*) FROM jsonb_object_keys(nm.attendees)),
        video = (SELECT coalesce(sum(coalesce((v->>'video')::int, 0)), 0)
                 FROM jsonb_each(nm.attendees) AS e(k, v)),
        internal_id = coalesce(m.internal_id, nm.internal_id),
        updated_at = now()
    FROM node_meetings nm
    WHERE nm.backend_id = b AND m.backend_id = b AND m.backend_meeting_id = nm.meeting_id;
$$;
