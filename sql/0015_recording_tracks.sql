-- 0015: text tracks of recordings (putRecordingTextTrack, getRecordingTextTracks;
-- docs/recordings.md). The row is the truth: an HTTP worker writes it and marks the recording
-- pending, and the settle (c/rec_settle.c) writes the WebVTT into the recording's presentation
-- tree as caption_<lang>.vtt with captions.json, then sets `written`. The files move with the
-- tree on publish and unpublish, and go with it (and the rows with the recording) on delete.
CREATE TABLE recording_tracks (
    recording_id bigint NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('subtitles', 'captions')),
    -- names a file (caption_<lang>.vtt): letters, digits and hyphens only
    lang         text NOT NULL CHECK (lang ~ '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,6}$'),
    label        text NOT NULL CHECK (length(label) <= 256),
    source       text NOT NULL DEFAULT 'upload' CHECK (source IN ('live', 'automatic', 'upload')),
    content      text NOT NULL,            -- WebVTT (an SRT upload is converted)
    written      boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recording_id, kind, lang)
);
