-- 0012: recordings, per frontend (docs/recordings.md). A row is listed by the BBB API once
-- its files are in place (import_state 'done'); imports write 'staged' first, so a crash
-- between the file move and the commit is settled by a sweep rather than lost.
CREATE TABLE recordings (
    id                  bigserial PRIMARY KEY,
    frontend_id         uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    record_id           text NOT NULL CHECK (length(record_id) BETWEEN 1 AND 256),
    meeting_id          text NOT NULL,            -- the frontend's own ID
    internal_meeting_id text NOT NULL,
    name                text NOT NULL DEFAULT '',
    is_breakout         boolean NOT NULL DEFAULT false,
    state               text NOT NULL DEFAULT 'published'
                        CHECK (state IN ('processing', 'processed', 'published', 'unpublished', 'deleted')),
    start_time          bigint NOT NULL DEFAULT 0, -- ms since the epoch, as BBB
    end_time            bigint NOT NULL DEFAULT 0,
    participants        integer NOT NULL DEFAULT 0,
    raw_size            bigint NOT NULL DEFAULT 0,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    import_state        text NOT NULL DEFAULT 'done' CHECK (import_state IN ('staged', 'done')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (frontend_id, record_id)
);
-- getRecordings' filters: meetingID lists, recordID prefixes, the page order, meta_* filters
CREATE INDEX recordings_meeting_idx ON recordings (frontend_id, meeting_id);
CREATE INDEX recordings_record_prefix_idx ON recordings (frontend_id, record_id text_pattern_ops);
-- what a page walks, and what a count of the states alone reads without the table
CREATE INDEX recordings_page_idx ON recordings (frontend_id, start_time, id) INCLUDE (state)
    WHERE import_state = 'done';
CREATE INDEX recordings_metadata_idx ON recordings USING gin (metadata jsonb_path_ops);

CREATE TABLE recording_formats (
    recording_id    bigint NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    format          text NOT NULL CHECK (format ~ '^[A-Za-z0-9_-]{1,64}$'),
    url             text NOT NULL,   -- the node's playback link
    url_path        text NOT NULL,   -- its path, served under B3SCALE_RECORDINGS_PLAYBACK_URL
    processing_time bigint NOT NULL DEFAULT 0,
    length_ms       bigint NOT NULL DEFAULT 0,
    size            bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (recording_id, format)
);
