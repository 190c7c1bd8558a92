-- import b3scale: b3scale's backends, frontends and the mapping of its meetings to nodes,
-- read from its Postgres (read-only, lua/b3scalectl/pg.lua) and written through our admin
-- API, idempotently: backends match by host, frontends by key, meetings by the frontend's
-- meeting ID and the node's. docs/switching.md explains the mapping.
local json = require("b3scalectl.json")
local jwt  = require("b3scalectl.jwt")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")
local pg   = require("b3scalectl.pg")
local sync = require("b3scalectl.sync")

local DB_ENV = "B3SCALE_IMPORT_DB_URL"

-- b3scale's instance_state as an admin_state of ours (nil: the backend is not imported)
local STATES = {
    init = "init", ready = "ready", stopped = "stopped",
    error = "stopped",              -- no such admin state here: kept out of placement
    decommissioned = "stopped",     -- only with meetings (see below): it drains
}

-- frontend settings that mean the same here (docs/frontend-settings.md)
local PARAM_KEYS = { create_default_params = true, create_override_params = true,
    join_default_params = true, join_override_params = true }
local VISIBILITY = { unpublished = true, published = true, protected = true, public = true,
    public_protected = true }

local function quote(s) return string.format("%q", tostring(s)) end

local function decode_object(text)
    local v = text and json.decode(text)
    if type(v) == "table" and not json.is_array(v) then return v end
    return {}
end

-- b3scale's settings.tags as tags of ours; the ones our pattern refuses go to notes
local function backend_tags(settings, notes)
    local tags = json.array()
    local t = settings.tags
    if t ~= nil and t ~= json.null then
        if not json.is_array(t) then
            notes[#notes + 1] = "not imported: settings.tags (not a list)"
        else
            for _, x in ipairs(t) do
                if type(x) == "string" and x:find(sync.TAG_PATTERN) then
                    tags[#tags + 1] = x
                elseif x ~= "" then
                    notes[#notes + 1] = "not imported: tag " .. quote(x) .. " (tags must match " ..
                        sync.TAG_PATTERN .. ")"
                end
            end
        end
    end
    for k, v in pairs(settings) do
        if k ~= "tags" and v ~= json.null then
            notes[#notes + 1] = "not imported: settings." .. k .. " (backends have only tags)"
        end
    end
    return tags
end

local function params_ok(v)
    if not sync.is_object(v) then return false end
    for _, x in pairs(v) do
        local t = type(x)
        if t ~= "string" and t ~= "number" and t ~= "boolean" then return false end
    end
    return true
end

-- b3scale's frontend settings as ours: the keys with an equivalent, checked as our admin API
-- checks them; everything else is a note "not imported: settings.<key> (why)".
local function frontend_settings(s, notes)
    local out = {}
    local function skip(k, why)
        notes[#notes + 1] = "not imported: settings." .. k .. " (" .. why .. ")"
    end
    local keys = {}
    for k in pairs(s) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
        local v = s[k]
        if v == json.null then
            -- b3scale writes unset settings as null: nothing to import
        elseif k == "required_tags" then
            if not json.is_array(v) then
                skip(k, "not a list")
            else
                local tags = json.array()
                for _, x in ipairs(v) do
                    -- b3scale lets an empty tag match anything: dropping it changes nothing
                    if type(x) == "string" and x:find(sync.TAG_PATTERN) then
                        tags[#tags + 1] = x
                    elseif x ~= "" then
                        skip(k, "tag " .. quote(x) .. " does not match " .. sync.TAG_PATTERN ..
                            "; its meetings would be placed without it")
                        tags = nil
                        break
                    end
                end
                if tags and #tags > 0 then out.required_tags = tags end
            end
        elseif PARAM_KEYS[k] then
            if params_ok(v) then
                if next(v) ~= nil then out[k] = v end
            else
                skip(k, "values must be strings, numbers or booleans")
            end
        elseif k == "default_presentation" then
            if not sync.is_object(v) then
                skip(k, "not an object")
            elseif v.url == nil or v.url == json.null or v.url == "" then
                -- no URL: b3scale does nothing with it either
            elseif type(v.url) ~= "string" or not v.url:find("^https?://") then
                skip(k, "url is not an http(s) URL")
            else
                out[k] = { url = v.url }
                if v.force == true then out[k].force = true end
            end
        elseif k == "attendees_limit" then
            local n = sync.is_object(v) and v.limit or v
            if n == nil or n == json.null then
                -- no limit
            elseif type(n) ~= "number" or n % 1 ~= 0 or n < 0 then
                skip(k, "limit is not a whole number >= 0")
            elseif n > 0 then
                out[k] = { limit = n }
            end
        elseif k == "recordings" then
            if not sync.is_object(v) then
                skip(k, "not an object")
            else
                for rk, rv in pairs(v) do
                    if rv == json.null then
                        -- unset
                    elseif rk == "visibility_override" and type(rv) == "string" and VISIBILITY[rv] then
                        -- b3scale forces it on import, ours sets it on import: the same for
                        -- recordings imported from now on
                        out.recordings = { visibility = rv }
                    else
                        skip(k .. "." .. rk, "no equivalent")
                    end
                end
            end
        else
            skip(k, "no equivalent")
        end
    end
    return out
end

-- the frontend's own meeting ID in b3scale's node ID: base64url (padded) of the JSON array
-- [key, meetingID, "b3scl"]; an ID that does not decode so is the frontend's own as it is
local function frontend_meeting_id(node_id)
    local raw = node_id:find("^[A-Za-z0-9_=-]+$") and jwt.b64url_decode(node_id)
    local v = raw and json.decode(raw)
    if json.is_array(v) and #v == 3 and v[3] == "b3scl" and type(v[2]) == "string" then
        return v[2], v[1]
    end
    return node_id
end

local function read_b3scale(url)
    local db, err = pg.connect(url)
    if not db then return nil, err end
    local function q(sql)
        local rows, qerr = db:query(sql)
        if not rows then error(qerr, 0) end
        return rows
    end
    local ok, res = pcall(function()
        -- b3scale's schema (reference: its migrations 0001/0002): __meta__ and meetings.state
        -- tell it from b3scaled-c's own tables, which share the table names
        local t = q("SELECT to_regclass('__meta__')::text AS meta,"
            .. " to_regclass('backends')::text AS b, to_regclass('frontends')::text AS f,"
            .. " to_regclass('meetings')::text AS m,"
            .. " (SELECT string_agg(table_name || '.' || column_name, ',')"
            .. "  FROM information_schema.columns WHERE table_schema = current_schema()"
            .. "  AND ((table_name = 'meetings' AND column_name = 'state')"
            .. "  OR (table_name = 'backends' AND column_name = 'agent_ref'))) AS cols")[1]
        if not (t.meta and t.b and t.f and t.m and (t.cols or ""):find("meetings.state", 1, true)) then
            error("not a b3scale database (no __meta__, backends, frontends and meetings with" ..
                " a state column)", 0)
        end
        local agent = (t.cols or ""):find("backends.agent_ref", 1, true) and ", agent_ref" or ""
        return {
            backends = q("SELECT id::text AS id, host, secret, admin_state::text AS admin_state,"
                .. " load_factor::text AS load_factor, settings::text AS settings" .. agent
                .. " FROM backends ORDER BY host"),
            frontends = q("SELECT id::text AS id, key, secret, settings::text AS settings,"
                .. " active::text AS active, account_ref FROM frontends ORDER BY key"),
            meetings = q("SELECT id, internal_id, frontend_id::text AS frontend_id,"
                .. " backend_id::text AS backend_id, state->>'MeetingName' AS name,"
                .. " state->>'AttendeePW' AS attendee_pw, state->>'ModeratorPW' AS moderator_pw,"
                .. " state->>'CreateTime' AS create_time, state->>'Running' AS running"
                .. " FROM meetings ORDER BY id"),
        }
    end)
    db:query("ROLLBACK")
    db:close()
    if not ok then return nil, res end
    return res
end

-- the report: one line per object, notes indented under it, counts for the last line
local function reporter(ctx, dry)
    local r = { n = { created = 0, updated = 0, adopted = 0, unchanged = 0, skipped = 0 } }
    local WOULD = { created = "would create", updated = "would update", adopted = "would adopt" }
    function r.line(what, name, action, detail, notes)
        r.n[action] = r.n[action] + 1
        local verb = dry and WOULD[action] or action
        ctx.out(string.format("%s %s %s%s\n", verb, what, name, detail and (": " .. detail) or ""))
        for _, n in ipairs(notes or {}) do ctx.out("  " .. n .. "\n") end
    end
    function r.finish()
        local n = r.n
        local changes = n.created + n.updated + n.adopted
        local tail = string.format("%d unchanged, %d skipped", n.unchanged, n.skipped)
        if changes == 0 then
            ctx.out("nothing to do (" .. tail .. ")\n")
        elseif dry then
            ctx.out(string.format("dry run: would create %d, update %d, adopt %d meeting(s); %s;" ..
                " nothing was changed\n", n.created, n.updated, n.adopted, tail))
        else
            ctx.out(string.format("%d created, %d updated, %d meeting(s) adopted, %s\n",
                n.created, n.updated, n.adopted, tail))
        end
    end
    return r
end

local function reason(e)
    if http.is_error(e) then return e.message end
    return tostring(e)
end

-- runs fn (a change through the API); a refusal of this one object (4xx) is returned as its
-- message, anything else (the server unreachable, 5xx) stops the import
local function attempt(fn)
    local ok, e = pcall(fn)
    if ok then return nil end
    if http.is_error(e) and e.status and e.status >= 400 and e.status < 500 then
        return e.message
    end
    error(e, 0)
end

-- Creates want when there is no cur, else patches what differs; reports one line either way
-- (a 4xx from the server skips the object with its message). True when it exists now (or
-- would, in a dry run).
local function upsert(r, dry, notes, kind, name, cur, want, created, create, diff, patch, ctx)
    local fields, body, problem = {}, nil, nil
    if not cur then
        problem = not dry and attempt(function() create(ctx, want) end)
    else
        fields, body = diff(cur, want)
        problem = #fields > 0 and not dry and attempt(function() patch(ctx, cur, body) end)
    end
    if problem then
        r.line(kind, name, "skipped", problem, notes)
        return false
    end
    if not cur then
        r.line(kind, name, "created", created, notes)
    else
        r.line(kind, name, #fields > 0 and "updated" or "unchanged",
            #fields > 0 and table.concat(fields, ", ") or nil, notes)
    end
    return true
end

local function import_backends(ctx, src, st, r, dry)
    local out = {}      -- b3scale backend id -> our host, for the meetings
    local used = {}     -- b3scale backends that meetings of imported frontends are on
    for _, m in ipairs(src.meetings) do
        if m.backend_id and m.frontend_id then used[m.backend_id] = true end
    end
    for _, b in ipairs(src.backends) do
        local host = sync.host(b.host)
        local notes = {}
        local state = STATES[b.admin_state or ""]
        if not host then
            r.line("backend", tostring(b.host), "skipped", "not an http(s) URL")
        elseif (b.secret or "") == "" then
            r.line("backend", host, "skipped", "it has no secret")
        elseif b.admin_state == "decommissioned" and not used[b.id] then
            r.line("backend", host, "skipped", "decommissioned in b3scale and without meetings")
        elseif not state then
            r.line("backend", host, "skipped", "unknown admin_state " .. quote(b.admin_state))
        else
            if b.admin_state == "error" or b.admin_state == "decommissioned" then
                notes[#notes + 1] = "admin_state " .. b.admin_state .. " imported as stopped" ..
                    " (takes no new meetings; b3scalectl delete backend removes it once empty)"
            end
            local want = {
                host = host, secret = b.secret, admin_state = state,
                tags = backend_tags(decode_object(b.settings), notes),
                load_factor = tonumber(b.load_factor) or 1,
            }
            if b.agent_ref and b.agent_ref ~= "" then want.agent_ref = b.agent_ref end
            local created = want.admin_state .. ", load factor " .. util.show(want.load_factor) ..
                (#want.tags > 0 and (", tags " .. table.concat(want.tags, ",")) or "")
            if upsert(r, dry, notes, "backend", host, st.by_host[host], want, created,
                      sync.create_backend, sync.backend_diff, sync.patch_backend, ctx) then
                out[b.id] = host
            end
        end
    end
    return out
end

local function import_frontends(ctx, src, st, r, dry)
    local out = {}      -- b3scale frontend id -> our key
    for _, f in ipairs(src.frontends) do
        local key = f.key or ""
        local notes = {}
        if #key > 64 or not key:find(sync.KEY_PATTERN) then
            r.line("frontend", quote(key), "skipped", "keys here must match ^[A-Za-z0-9_-]{1,64}$" ..
                " (add it under a new key: its URL changes)")
        elseif (f.secret or "") == "" then
            r.line("frontend", key, "skipped", "it has no secret")
        else
            local settings = frontend_settings(decode_object(f.settings), notes)
            local want = { key = key, secret = f.secret, active = f.active ~= "false" }
            if f.account_ref and f.account_ref ~= "" then want.account_ref = f.account_ref end
            local cur = st.by_key[key]
            if not cur then
                want.settings = settings
            else
                -- the keys b3scale has replace ours; settings only we have stay
                local merged = {}
                local stored = sync.is_object(cur.settings) and cur.settings or {}
                for k, v in pairs(stored) do merged[k] = v end
                for k, v in pairs(settings) do merged[k] = v end
                want.settings = merged
            end
            if upsert(r, dry, notes, "frontend", key, cur, want, nil,
                      sync.create_frontend, sync.frontend_diff, sync.patch_frontend, ctx) then
                out[f.id] = key
            end
        end
    end
    return out
end

local function import_meetings(ctx, src, st, r, dry, hosts, keys)
    local by_own, by_node = {}, {}
    for _, m in ipairs(st.meetings) do
        by_own[m.frontend_key .. "\0" .. m.meeting_id] = m
        if m.backend_meeting_id then by_node[m.backend_meeting_id] = m end
    end
    for _, m in ipairs(src.meetings) do
        local node_id = m.id
        local own = frontend_meeting_id(node_id)
        local key, host = keys[m.frontend_id or ""], hosts[m.backend_id or ""]
        local name = (key or "?") .. "/" .. own
        if not m.frontend_id then
            r.line("meeting", node_id, "skipped", "no frontend in b3scale (a breakout room, or" ..
                " created around b3scale)")
        elseif not m.backend_id then
            r.line("meeting", name, "skipped", "no backend in b3scale (its backend was deleted)")
        elseif not key then
            r.line("meeting", name, "skipped", "its frontend was not imported")
        elseif not host then
            r.line("meeting", name, "skipped", "its backend was not imported")
        else
            local running = m.running == "true" and "running" or "not running yet"
            local mine, theirs = by_own[key .. "\0" .. own], by_node[node_id]
            if mine and mine.backend_host == host and mine.backend_meeting_id == node_id then
                r.line("meeting", name, "unchanged")
            elseif mine then
                r.line("meeting", name, "skipped", "the frontend already has this meeting ID, on " ..
                    tostring(mine.backend_host) .. " as " .. tostring(mine.backend_meeting_id))
            elseif theirs then
                r.line("meeting", name, "skipped", "node meeting " .. node_id ..
                    " already belongs to " .. tostring(theirs.frontend_key) .. "/" ..
                    tostring(theirs.meeting_id))
            elseif dry then
                r.line("meeting", name, "adopted", running .. " on " .. host)
            else
                local status
                local problem = attempt(function()
                    status = ctx.client().post("/api/v1/meetings", {
                        frontend = key, meeting_id = own, backend = host,
                        backend_meeting_id = node_id, name = m.name, attendee_pw = m.attendee_pw,
                        moderator_pw = m.moderator_pw, internal_id = m.internal_id,
                        create_time = (m.create_time or ""):find("^%d+$") and
                            tonumber(m.create_time) or nil,
                    })
                end)
                if problem then
                    r.line("meeting", name, "skipped", problem)
                elseif status == 200 then
                    r.line("meeting", name, "unchanged")
                else
                    r.line("meeting", name, "adopted", running .. " on " .. host)
                end
            end
        end
    end
end

local function run(ctx, _, flags)
    local url = flags.db
    if url == nil or url == "" then url = ctx.getenv(DB_ENV) end
    if url == nil or url == "" then
        util.usage("import b3scale: give b3scale's database as --db URL or in " .. DB_ENV ..
            " (leave the password out: libpq reads PGPASSWORD and ~/.pgpass)")
    end
    local src, err = read_b3scale(url)
    if not src then util.fail("config", "b3scale's database: " .. tostring(err)) end
    local dry = flags["dry-run"] == true
    local st = sync.state(ctx)
    local r = reporter(ctx, dry)
    local hosts = import_backends(ctx, src, st, r, dry)
    local keys = import_frontends(ctx, src, st, r, dry)
    import_meetings(ctx, src, st, r, dry, hosts, keys)
    r.finish()
end

return {
    {
        words = { "import", "b3scale" }, flags = { "db", "dry-run" },
        flag_help = {
            db = "b3scale's Postgres URL (or " .. DB_ENV .. "); read only",
            ["dry-run"] = "show what would change, change nothing",
        },
        summary = "take over b3scale's backends, frontends and running meetings",
        help = "Reads b3scale's database (read-only) and creates or updates, through the API,\n" ..
               "its backends (matched by host: secret, admin state, load factor, tags),\n" ..
               "frontends (matched by key: secret, settings with an equivalent here, active,\n" ..
               "account) and the meetings on its nodes, which b3scaled then reaches under the\n" ..
               "IDs b3scale gave them there. Prints one line per object and why; settings\n" ..
               "without an equivalent are listed as \"not imported\". Running it again changes\n" ..
               "nothing. The URL (--db or " .. DB_ENV .. ") is never printed; keep the\n" ..
               "password in PGPASSWORD or ~/.pgpass, not in the URL. See docs/switching.md.",
        run = run,
    },
}
