-- 0010: getMeetings is answered from the live view, not by asking nodes. Each meeting keeps
-- the <meeting> element of the latest snapshot (a poll's or an agent's), for what only the
-- node knows (metadata, breakout data, times, passwords); running, the counts and the
-- attendees come from the live columns, which an agent's events keep current. The index
-- serves a frontend's listing: its meetings are the IDs starting with "<key>~".
-- xml_at: the snapshot's time; while no event changed the meeting since (updated_at), the
-- element is current as it is and is served without being rebuilt.
-- parent_id: a breakout room's parent, by internal ID: BBB names breakout rooms itself, outside
-- every namespace, so they reach their frontend through their parent.
ALTER TABLE node_meetings ADD COLUMN xml text, ADD COLUMN xml_at timestamptz,
    ADD COLUMN parent_id text;
CREATE INDEX node_meetings_meeting_id_idx ON node_meetings (meeting_id COLLATE "C");
CREATE INDEX node_meetings_parent_idx ON node_meetings (backend_id, parent_id)
    WHERE parent_id IS NOT NULL;

-- Placement reads every eligible node's pending count (backend_pending: its meetings created
-- since its counters were refreshed); with this index that is a short range per node instead
-- of all of its meetings (20,000 rows per create at 500 nodes).
CREATE INDEX meetings_backend_created_idx ON meetings (backend_id, created_at);
