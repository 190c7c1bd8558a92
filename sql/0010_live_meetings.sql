-- 0010: getMeetings is answered from the live view, not by asking nodes. Each meeting keeps
-- the <meeting> element of the latest snapshot (a poll's or an agent's), for what only the
-- node knows (metadata, breakout data, times, passwords); running, the counts and the
-- attendees come from the live columns, which an agent's events keep current. The index
-- serves a frontend's listing: its meetings are the IDs starting with "<key>~".
ALTER TABLE node_meetings ADD COLUMN xml text;
CREATE INDEX node_meetings_meeting_id_idx ON node_meetings (meeting_id COLLATE "C");
