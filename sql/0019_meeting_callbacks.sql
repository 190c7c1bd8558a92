-- 0019: the callback URLs a frontend gave at create (docs/callbacks.md). The node gets
-- b3scaled's own URLs instead, signed for this row (its id is in them): it calls back with
-- the namespaced meeting ID and its own secret, neither of which the frontend knows, and
-- b3scaled calls the frontend's URLs from its outbox. One row per create; a duplicate create
-- adds one the node never hears of, harmless. Rows go after 30 days (recordings can take a
-- while to process; meetings rarely run that long).
CREATE TABLE meeting_callbacks (
    id                  bigserial PRIMARY KEY,
    frontend_id         uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    meeting_id          text NOT NULL,  -- the frontend's own ID
    backend_meeting_id  text NOT NULL,  -- the namespaced one the node knows
    end_url             text,           -- meta_endCallbackUrl
    ended_url           text,           -- meetingEndedURL
    recording_ready_url text,           -- meta_bbb-recording-ready-url (or bn-/canvas-)
    analytics_url       text,           -- meta_analytics-callback-url
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meeting_callbacks_meeting_idx ON meeting_callbacks (frontend_id, meeting_id, id);
CREATE INDEX meeting_callbacks_created_idx ON meeting_callbacks (created_at);
