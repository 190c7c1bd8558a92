-- 0001: backends, frontends and meetings.
-- Applied by `b3scaled migrate` in one transaction and recorded in schema_migrations.

CREATE TABLE backends (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- the node's API base URL, e.g. https://bbb1.example.org/bigbluebutton/api/
    host            text NOT NULL UNIQUE CHECK (host ~ '^https?://.+/$'),
    secret          text NOT NULL CHECK (length(secret) > 0),
    -- what the operator wants: ready (takes new meetings), stopped (drains),
    -- decommissioned (removed once empty); init = registered, not yet enabled
    admin_state     text NOT NULL DEFAULT 'ready'
                    CHECK (admin_state IN ('init', 'ready', 'stopped', 'decommissioned')),
    -- what was observed: init (never polled), ready, unavailable
    node_state      text NOT NULL DEFAULT 'init'
                    CHECK (node_state IN ('init', 'ready', 'unavailable')),
    last_error      text,
    tags            text[] NOT NULL DEFAULT '{}',
    load_factor     double precision NOT NULL DEFAULT 1.0 CHECK (load_factor >= 0),
    meetings_count  integer NOT NULL DEFAULT 0,
    attendees_count integer NOT NULL DEFAULT 0,
    video_count     integer NOT NULL DEFAULT 0,
    voice_count     integer NOT NULL DEFAULT 0,
    listener_count  integer NOT NULL DEFAULT 0,
    agent_ref       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE frontends (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- appears in URLs (/bbb/<key>/api/...) and in namespaced meeting IDs
    key         text NOT NULL UNIQUE CHECK (key ~ '^[A-Za-z0-9_-]{1,64}$'),
    secret      text NOT NULL CHECK (length(secret) > 0),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    active      boolean NOT NULL DEFAULT true,
    account_ref text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE meetings (
    id                  bigserial PRIMARY KEY,
    frontend_id         uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    -- the meeting ID as the frontend knows it
    meeting_id          text NOT NULL,
    -- the namespaced ID the backend knows
    backend_meeting_id  text NOT NULL UNIQUE,
    backend_id          uuid REFERENCES backends (id) ON DELETE SET NULL,
    internal_id         text,
    -- the create call as forwarded (query without checksum, body), to re-create it elsewhere
    create_query        text NOT NULL,
    create_body         bytea,
    create_content_type text,
    create_time         bigint,
    attendee_pw         text,
    moderator_pw        text,
    running             boolean NOT NULL DEFAULT false,
    participants        integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- set once a backend confirmed the create
    confirmed_at        timestamptz,
    UNIQUE (frontend_id, meeting_id)
);

CREATE INDEX meetings_backend_idx ON meetings (backend_id);
