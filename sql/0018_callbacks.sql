-- 0018: the callback outbox (docs/callbacks.md, "Delivery"). Producers insert a row per event
-- (event_id de-duplicates: ON CONFLICT DO NOTHING); any instance's deliverer claims due rows
-- with FOR UPDATE SKIP LOCKED and pushes next_at past its attempt (a lease), so the rows are
-- the whole state: a restart of any instance loses nothing and no row is sent twice at once.

-- Extra request headers: an object of string values whose names are HTTP tokens, values
-- without line breaks, and none of the headers that frame the request (they are curl's).
CREATE FUNCTION b3s_callback_headers_ok(h jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_typeof(h) = 'object' AND coalesce((
        SELECT bool_and(jsonb_typeof(e.value) = 'string'
            AND e.key ~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]{1,128}$'
            AND lower(e.key) NOT IN ('host', 'content-length', 'transfer-encoding',
                                     'connection', 'expect', 'content-type')
            AND (e.value #>> '{}') !~ '[\r\n]'
            AND length(e.value #>> '{}') <= 8192)
        FROM jsonb_each(h) e), true)
$$;

CREATE TABLE callbacks (
    id            bigserial PRIMARY KEY,
    frontend_id   uuid REFERENCES frontends (id) ON DELETE CASCADE, -- NULL: not a tenant's
    kind          text NOT NULL CHECK (kind ~ '^[a-z0-9-]{1,64}$'),
    event_id      text NOT NULL UNIQUE CHECK (length(event_id) BETWEEN 1 AND 512),
    url           text NOT NULL CHECK (url ~* '^https?://' AND length(url) <= 8192),
    method        text NOT NULL DEFAULT 'POST' CHECK (method IN ('GET', 'POST')),
    content_type  text CHECK (content_type !~ '[\r\n]' AND length(content_type) <= 256),
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (b3s_callback_headers_ok(headers)),
    body          bytea,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivered', 'failed', 'refused')),
    attempts      integer NOT NULL DEFAULT 0, -- claims so far (one per attempt)
    next_at       timestamptz NOT NULL DEFAULT now(), -- due, or claimed until
    last_status   integer,                    -- HTTP status of the last answer
    last_error    text,                       -- why the last attempt did not deliver
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz
);

-- the claim's scan: due pending rows, oldest due first (and the pending gauge's count)
CREATE INDEX callbacks_due_idx ON callbacks (next_at) WHERE state = 'pending';
-- the admin listing per frontend, newest first
CREATE INDEX callbacks_frontend_idx ON callbacks (frontend_id, id);
-- the retention sweep of finished rows
CREATE INDEX callbacks_finished_idx ON callbacks (created_at) WHERE state <> 'pending';
