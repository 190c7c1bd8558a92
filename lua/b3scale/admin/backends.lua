-- b3scale.admin.backends: /api/v1/backends (BBB nodes). Admins see all, with secrets; a
-- node agent (b3scale:node) sees only backends whose agent_ref is its sub, never a secret,
-- and may register one (disabled: admin_state "init"); every other write is admin-only.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")
local settings = require("b3scale.admin.settings")

local type, ipairs, tonumber = type, ipairs, tonumber

local COUNTERS = { "meetings_count", "attendees_count", "video_count", "voice_count",
  "listener_count" }
local COLUMNS = "b.id::text AS id, b.host, b.secret, b.admin_state, b.node_state, b.last_error,"
  .. " array_to_json(b.tags)::text AS tags, b.load_factor::text AS load_factor,"
  .. " b.max_meetings, b.max_attendees, "
  .. table.concat(COUNTERS, ", ") .. ", b.agent_ref, b.latency_ms, " .. db.ts("b.created_at")
  .. ", " .. db.ts("b.updated_at") .. ", " .. db.ts("b.agent_heartbeat") .. ", "
  .. db.ts("b.polled_at")
local TOP = { bbb = true, settings = true, admin_state = true, load_factor = true,
  agent_ref = true, max_meetings = true, max_attendees = true }
-- per-node hard caps (sql/0023): a positive integer, or null for none
local CAPS = { "max_meetings", "max_attendees" }
local CAP_MAX = 1000000000
local BBB = { host = true, secret = true }
local READ_ONLY = { id = true, node_state = true, last_error = true, created_at = true,
  updated_at = true, latency_ms = true, agent_heartbeat = true, polled_at = true, meetings_count = true, attendees_count = true, video_count = true,
  voice_count = true, listener_count = true }
local STATES = { init = true, ready = true, stopped = true, decommissioned = true }
local CONFLICT = "a backend with this host already exists"
-- first key of the advisory lock that serialises one agent's registrations ("b3sa")
local AGENT_LOCK = 0x62337361


local function present(ctx, row)
  local out = {
    id = row.id, bbb = { host = row.host },
    settings = { tags = json.raw(row.tags) }, admin_state = row.admin_state,
    node_state = row.node_state, last_error = db.val(row.last_error) or json.null,
    load_factor = tonumber(row.load_factor), agent_ref = db.val(row.agent_ref) or json.null,
    max_meetings = db.num(row.max_meetings) or json.null,
    max_attendees = db.num(row.max_attendees) or json.null,
    created_at = row.created_at, updated_at = row.updated_at,
    latency_ms = db.num(row.latency_ms) or json.null,
    agent_heartbeat = db.val(row.agent_heartbeat) or json.null,
    polled_at = db.val(row.polled_at) or json.null,
  }
  for _, c in ipairs(COUNTERS) do
    out[c] = tonumber(row[c]) or 0
  end
  ctx.circuits = ctx.circuits or db.circuits()
  out.circuit = ctx.circuits(row.id)
  if ctx.admin then
    out.bbb.secret = row.secret
  end
  return out
end


-- "http(s)://host[:port]/path", scheme lower-cased, ending in "/"; or nil.
function _M.normalise_host(h)
  if type(h) ~= "string" then
    return nil
  end
  h = h:match("^%s*(.-)%s*$")
  if not h:find("^[Hh][Tt][Tt][Pp][Ss]?://[^%s/?#@]+[^%s?#]*$") then
    return nil
  end
  h = h:gsub("^%a+", string.lower)
  if h:sub(-1) ~= "/" then
    h = h .. "/"
  end
  return h
end


local function validate(obj)
  local f = errors.fields()
  f:unknown(obj, TOP)
  local bbb = obj.bbb
  if bbb == nil then
    f:add("bbb", "is required")
    bbb = {}
  elseif f:kind("bbb", bbb, "object") then
    f:unknown(bbb, BBB, "bbb.")
  else
    bbb = {}
  end
  local host = bbb.host
  if host == nil then
    f:add("bbb.host", "is required")
  elseif f:kind("bbb.host", host, "string") then
    host = _M.normalise_host(host)
    if not host then
      f:add("bbb.host", "must be an http:// or https:// URL")
    end
  end
  local secret = bbb.secret
  if secret == nil then
    f:add("bbb.secret", "is required")
  elseif f:kind("bbb.secret", secret, "string") then
    secret = secret:match("^%s*(.-)%s*$")
    if secret == "" then
      f:add("bbb.secret", "must not be empty")
    end
  end
  local tags = settings.check_backend(f, obj.settings)
  local state = obj.admin_state
  if state == nil then
    state = "ready"
  elseif f:kind("admin_state", state, "string") and not STATES[state] then
    f:add("admin_state", "must be one of init, ready, stopped, decommissioned")
  end
  local lf = obj.load_factor
  if lf == nil then
    lf = 1.0
  elseif f:kind("load_factor", lf, "number") and lf < 0 then
    f:add("load_factor", "must be >= 0")
  end
  local ref = obj.agent_ref
  if ref ~= nil and ref ~= json.null and f:kind("agent_ref", ref, "string") and ref == "" then
    f:add("agent_ref", "must not be empty (use null)")
  end
  local caps = {}
  for _, name in ipairs(CAPS) do
    local v = obj[name]
    if v ~= nil and v ~= json.null and f:kind(name, v, "number") then
      if v ~= math.floor(v) or v < 1 or v > CAP_MAX then
        f:add(name, "must be a whole number from 1 to " .. CAP_MAX .. " (null: no cap)")
      else
        caps[name] = v
      end
    end
  end
  if not f:empty() then
    return nil, f:response()
  end
  return {
    host = host, secret = secret, tags = json.encode(json.array(tags)), admin_state = state,
    load_factor = lf, agent_ref = (ref ~= json.null) and ref or nil,
    max_meetings = caps.max_meetings, max_attendees = caps.max_attendees,
  }
end


local function agent(ctx)
  return (ctx.role == "node") and ctx.sub or nil
end


local function find(ctx, id, lock)
  if not errors.is_uuid(id) then
    return nil, errors.not_found("backend")
  end
  return db.first("backend", "SELECT " .. COLUMNS .. " FROM backends b WHERE b.id = $1::uuid"
    .. " AND ($2::text IS NULL OR b.agent_ref = $2)" .. (lock and " FOR UPDATE" or ""),
    id, agent(ctx))
end


function _M.list(ctx)
  local host = ctx.query.host
  return db.listing(function(row)
    return present(ctx, row)
  end, "SELECT " .. COLUMNS .. " FROM backends b"
    .. " WHERE ($1::text IS NULL OR b.host = $1 OR b.host = $2)"
    .. " AND ($3::text IS NULL OR b.agent_ref = $3) ORDER BY b.host",
    host, _M.normalise_host(host) or host, agent(ctx))
end


-- INSERT or UPDATE (when id is given) of a validated record; a response.
local function save(ctx, rec, id)
  local sql
  if id then
    sql = "UPDATE backends AS b SET host = $2, secret = $3, tags = ARRAY(SELECT"
      .. " jsonb_array_elements_text($4::jsonb)), admin_state = $5, load_factor = $6,"
      .. " agent_ref = $7, max_meetings = $8::integer, max_attendees = $9::integer,"
      .. " updated_at = now() WHERE b.id = $1::uuid RETURNING " .. COLUMNS
  else
    sql = "INSERT INTO backends AS b (host, secret, tags, admin_state, load_factor, agent_ref,"
      .. " max_meetings, max_attendees)"
      .. " SELECT $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5, $6, $7,"
      .. " $8::integer, $9::integer WHERE $1::uuid IS NULL RETURNING " .. COLUMNS
  end
  local rows, err = db.write(CONFLICT, sql, id, rec.host, rec.secret, rec.tags,
    rec.admin_state, rec.load_factor, rec.agent_ref, rec.max_meetings, rec.max_attendees)
  if not rows then
    return err
  end
  return errors.ok(present(ctx, rows[1]), id and 200 or 201)
end


-- A node agent registers its one backend: agent_ref = sub, admin_state always "init" (an
-- admin enables it), and a second registration for the same agent is a 409. Concurrent
-- registrations of one agent are serialised on a transaction-scoped advisory lock.
local function register(ctx, rec)
  if rec.agent_ref ~= nil and rec.agent_ref ~= ctx.sub then
    return errors.forbidden("only b3scale:admin may set agent_ref")
  end
  rec.agent_ref = ctx.sub
  rec.admin_state = "init"
  return db.tx(function()
    local rows, err = db.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))",
      AGENT_LOCK, ctx.sub)
    if not rows then
      return err
    end
    rows, err = db.query("SELECT id::text AS id FROM backends WHERE agent_ref = $1 LIMIT 1",
      ctx.sub)
    if not rows then
      return err
    end
    if rows[1] then
      return errors.conflict("agent " .. ctx.sub .. " already has a backend (" .. rows[1].id
        .. "); changing it needs scope b3scale:admin")
    end
    return save(ctx, rec, nil)
  end)
end


function _M.create(ctx)
  local rec, err = errors.body_record(ctx.req, validate)
  if not rec then
    return err
  end
  if ctx.role == "node" then
    return register(ctx, rec)
  end
  return db.tx(function()
    return save(ctx, rec, nil)
  end)
end


function _M.show(ctx)
  return errors.shown(function(row)
    return present(ctx, row)
  end, find(ctx, ctx.params.id))
end


function _M.update(ctx)
  local patch, err = errors.body_object(ctx.req)
  if not patch then
    return err
  end
  return db.tx(function()
    local row, ferr = find(ctx, ctx.params.id, true)
    if not row then
      return ferr
    end
    local f = errors.fields()
    f:read_only(patch, present({ admin = true }, row), READ_ONLY)
    if not f:empty() then
      return f:response()
    end
    local stored = {
      bbb = { host = row.host, secret = row.secret },
      settings = { tags = json.decode(row.tags) or json.array() },
      admin_state = row.admin_state, load_factor = tonumber(row.load_factor),
      agent_ref = db.val(row.agent_ref),
      max_meetings = db.num(row.max_meetings), max_attendees = db.num(row.max_attendees),
    }
    local rec, verr = validate(json.merge_patch(stored, patch))
    if not rec then
      return verr
    end
    if not ctx.admin and rec.agent_ref ~= stored.agent_ref then
      return errors.forbidden("only b3scale:admin may change agent_ref")
    end
    return save(ctx, rec, row.id)
  end)
end


function _M.destroy(ctx)
  local force, problem = errors.query_bool(ctx.query.force)
  if force == nil then
    local f = errors.fields()
    f:add("force", problem)
    return f:response()
  end
  return db.tx(function()
    local row, err = find(ctx, ctx.params.id, true)
    if not row then
      return err
    end
    local rows
    rows, err = db.query("SELECT count(*)::text AS n FROM meetings WHERE backend_id = $1::uuid",
      row.id)
    if not rows then
      return err
    end
    local deleted = force or rows[1].n == "0"
    if deleted then
      rows, err = db.query("DELETE FROM meetings WHERE backend_id = $1::uuid", row.id)
      if rows then
        rows, err = db.query("DELETE FROM backends AS b WHERE b.id = $1::uuid RETURNING "
          .. COLUMNS, row.id)
      end
    else
      rows, err = db.query("UPDATE backends AS b SET admin_state = 'decommissioned',"
        .. " updated_at = now() WHERE b.id = $1::uuid RETURNING " .. COLUMNS, row.id)
    end
    if not rows then
      return err
    end
    local out = present(ctx, rows[1])
    out.deleted = deleted
    return errors.ok(out)
  end)
end


return _M
