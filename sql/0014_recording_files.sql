-- 0014: the files of a recording follow its row. A change that moves files (an import, a
-- publish or unpublish, a delete) first writes the row as it should end with `pending`
-- set; a settle (c/rec_store.c) then moves the trees to match and clears it, under the
-- row's lock. A crash anywhere between leaves `pending` set and the next settle, on any
-- instance, finishes the job: the database and the storage never disagree for long and
-- never lose a recording.
ALTER TABLE recordings ADD COLUMN pending boolean NOT NULL DEFAULT false;
CREATE INDEX recordings_pending_idx ON recordings (id) WHERE pending;
-- b3scale's visibility values, applied at import from the frontend's recordings.visibility
ALTER TABLE recordings ADD COLUMN visibility text NOT NULL DEFAULT 'published'
    CHECK (visibility IN ('unpublished', 'published', 'protected', 'public', 'public_protected'));
-- where an imported tree waits (relative to B3SCALE_RECORDINGS_DIR) until the settle moves
-- it into place; a format is listed only once it is NULL
ALTER TABLE recording_formats ADD COLUMN staging text;
-- the backend that uploaded the format (NULL: an admin import)
ALTER TABLE recording_formats ADD COLUMN backend_id uuid REFERENCES backends (id) ON DELETE SET NULL;
-- a recordID names one tree in the shared storage (published/<format>/<recordID>): it may
-- belong to one frontend only, so no tenant's upload can land on another's files
CREATE UNIQUE INDEX recordings_record_id_key ON recordings (record_id);
