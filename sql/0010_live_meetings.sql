-- 0010: getMeetings is answered from the live view, not by asking nodes. Each meeting keeps
-- the <meeting> element of the latest snapshot (a poll's or an agent's), for what only the
-- node knows (metadata, breakout data, times, passwords); running, the counts and the
-- attendees come from the live columns, which an agent's events keep current. The index
-- serves a frontend's listing: its meetings are the IDs starting with "<key>~".
-- xml_at: the snapshot's time; while no event changed the meeting since (updated_at), the
-- element is current as it is and is served without being rebuilt.
-- parent_id: a breakout room's parent, by internal ID: BBB names breakout rooms itself, outside
-- every namespace, so they reach their frontend through their parent.
-- xml_hash: sha1 of xml; a poll sends an element only when its hash differs.
ALTER TABLE node_meetings ADD COLUMN xml text, ADD COLUMN xml_hash text,
    ADD COLUMN xml_at timestamptz, ADD COLUMN parent_id text;
CREATE INDEX node_meetings_meeting_id_idx ON node_meetings (meeting_id COLLATE "C");
CREATE INDEX node_meetings_parent_idx ON node_meetings (backend_id, parent_id)
    WHERE parent_id IS NOT NULL;

-- Placement reads every eligible node's pending count (backend_pending: its meetings created
-- since its counters were refreshed); with this index that is a short range per node instead
-- of all of its meetings (20,000 rows per create at 500 nodes).
CREATE INDEX meetings_backend_created_idx ON meetings (backend_id, created_at);

-- Polls rewrite a node's counters every round, but its meeting rows only where something
-- changed: at 500 nodes and 20,000 meetings the unchanged rewrites were most of the
-- database's work.
CREATE OR REPLACE FUNCTION b3s_refresh_node(b uuid) RETURNS void LANGUAGE sql AS $$
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
        running = l.running, participants = l.participants, video = l.video,
        internal_id = coalesce(m.internal_id, l.internal_id), updated_at = now()
    FROM (SELECT nm.meeting_id, nm.running,
                 (SELECT count(*) FROM jsonb_object_keys(nm.attendees))::int AS participants,
                 (SELECT coalesce(sum(coalesce((v->>'video')::int, 0)), 0)
                  FROM jsonb_each(nm.attendees) AS e(k, v))::int AS video,
                 nm.internal_id
          FROM node_meetings nm WHERE nm.backend_id = b) l
    WHERE m.backend_id = b AND m.backend_meeting_id = l.meeting_id
      AND (m.running, m.participants, m.video, m.internal_id) IS DISTINCT FROM
          (l.running, l.participants, l.video, coalesce(m.internal_id, l.internal_id));
$$;

-- poll_digest: the sha1 of the last getMeetings answer processed in full (and the mode it was
-- processed in); an identical answer within 30 s is not read again.
ALTER TABLE backends ADD COLUMN poll_digest text, ADD COLUMN poll_digest_at timestamptz;

-- pending, as 0008 defines it, written so the index above serves it: "created after the
-- counters" as one range per node instead of every meeting of the node checked by a filter.
CREATE OR REPLACE VIEW backend_pending AS
SELECT b.id AS backend_id,
       (SELECT count(*) FROM meetings m
         WHERE m.backend_id = b.id
           AND m.created_at > coalesce(b.counters_at, '-infinity'::timestamptz)) AS pending
  FROM backends b;
