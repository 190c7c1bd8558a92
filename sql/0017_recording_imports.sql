-- 0017: the last recording imports of every instance, for the status page (failures
-- included, with the reason the uploader was given). Kept short: each import trims it.
CREATE TABLE recording_imports (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    backend_id  uuid REFERENCES backends (id) ON DELETE SET NULL, -- NULL: an admin's import
    status      integer NOT NULL,
    trees       integer NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL DEFAULT 0,
    record_ids  text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT ''
);
