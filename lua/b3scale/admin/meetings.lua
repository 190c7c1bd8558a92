-- b3scale.admin.meetings: /api/v1/meetings. The `b3scale` scope sees only meetings of its
-- own frontends. DELETE ends the meeting on its node (BBB `end`) before removing the record.
-- POST (admin only) adopts a meeting already running on a node under an ID of its own, e.g.
-- one another balancer created there (b3scalectl import b3scale).
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")
local backends = require("b3scale.admin.backends")

local ipairs, tonumber, tostring, type = ipairs, tonumber, tostring, type

-- bbb-web's limit on a meeting ID, and what b3scaled's namespaced form of it may take
local MAX_ID = 256
local ADOPT_FIELDS = { frontend = true, meeting_id = true, backend = true,
  backend_meeting_id = true, name = true, attendee_pw = true, moderator_pw = true,
  internal_id = true, create_time = true }

_M.FROM = " FROM meetings m JOIN frontends f ON f.id = m.frontend_id"
  .. " LEFT JOIN backends b ON b.id = m.backend_id"
_M.COLUMNS = "m.id::text AS id, m.frontend_id::text AS frontend_id, f.key AS frontend_key,"
  .. " m.meeting_id, m.backend_meeting_id, m.backend_id::text AS backend_id,"
  .. " b.host AS backend_host, b.secret AS backend_secret, m.internal_id,"
  .. " m.running::text AS running, m.participants::text AS participants,"
  .. " m.create_time::text AS create_time, " .. db.ts("m.created_at") .. ", "
  .. db.ts("m.updated_at") .. ", m.placement_reason::text AS placement_reason"


function _M.present(row)
  return {
    id = row.id, frontend_id = row.frontend_id, frontend_key = row.frontend_key,
    meeting_id = row.meeting_id, backend_meeting_id = row.backend_meeting_id,
    backend_id = db.val(row.backend_id) or json.null,
    backend_host = db.val(row.backend_host) or json.null,
    internal_id = db.val(row.internal_id) or json.null, running = db.bool(row.running),
    participants = tonumber(row.participants) or 0,
    create_time = db.num(row.create_time) or json.null,
    created_at = row.created_at, updated_at = row.updated_at,
    -- why it was placed there (sql/0024; null before it, for adopted and restored rows)
    placement_reason = db.val(row.placement_reason) and json.raw(row.placement_reason)
      or json.null,
  }
end


-- Ends a meeting row on its node: true when it is gone there (ended now, or the node does
-- not know it), or nil, a message and true when the node could not be reached at all.
function _M.end_on_node(row)
  local host, secret = db.val(row.backend_host), db.val(row.backend_secret)
  if not host then
    return true                         -- its backend was removed: nothing left to end
  end
  local rc, key, err = db.host().bbb_call(host, secret, "end",
    { meetingID = row.backend_meeting_id })
  if rc == "SUCCESS" or (rc == "FAILED" and key == "notFound") then
    return true
  elseif rc == nil then
    return nil, "node unreachable: " .. tostring(err), true
  end
  return nil, "node answered " .. tostring(rc) .. " " .. tostring(key)
end


-- Removes a meeting record after its end; true or nil and a response.
function _M.forget(id)
  local rows, err = db.query("DELETE FROM meetings WHERE id = $1::bigint", id)
  if not rows then
    return nil, err
  end
  return true
end


function _M.list(ctx)
  local q = ctx.query
  local f = errors.fields()
  for _, k in ipairs({ "backend_id", "frontend_id" }) do
    if q[k] ~= nil and not errors.is_uuid(q[k]) then
      f:add(k, "must be a uuid")
    end
  end
  if not f:empty() then
    return f:response()
  end
  return db.listing(_M.present, "SELECT " .. _M.COLUMNS .. _M.FROM
    .. " WHERE ($1::uuid IS NULL OR m.backend_id = $1::uuid)"
    .. " AND ($2::text IS NULL OR b.host = $2 OR b.host = $3)"
    .. " AND ($4::uuid IS NULL OR m.frontend_id = $4::uuid)"
    .. " AND ($5::text IS NULL OR f.key = $5)"
    .. " AND ($6::text IS NULL OR f.account_ref = $6) ORDER BY m.id",
    q.backend_id, q.backend_host, backends.normalise_host(q.backend_host) or q.backend_host,
    q.frontend_id, q.frontend_key, (not ctx.admin) and ctx.sub or nil)
end


local function find(ctx, id)
  if type(id) ~= "string" or not id:find("^%d+$") or #id > 18 then
    return nil, errors.not_found("meeting")
  end
  return db.first("meeting", "SELECT " .. _M.COLUMNS .. _M.FROM .. " WHERE m.id = $1::bigint"
    .. " AND ($2::text IS NULL OR f.account_ref = $2)", id, (not ctx.admin) and ctx.sub or nil)
end


function _M.show(ctx)
  return errors.shown(_M.present, find(ctx, ctx.params.id))
end


function _M.destroy(ctx)
  local row, err = find(ctx, ctx.params.id)
  if not row then
    return err
  end
  local ok, problem = _M.end_on_node(row)
  if not ok then
    return errors.err(502, "backend_error", "could not end the meeting: " .. problem)
  end
  ok, err = _M.forget(row.id)
  if not ok then
    return err
  end
  return errors.ok({ ended = true, meeting = _M.present(row) })
end


-- A meeting ID as bbb-web accepts it: 2 to MAX_ID bytes, no control character, no ','.
local function check_id(f, path, v)
  if not f:kind(path, v, "string") then
    return
  end
  if #v < 2 or #v > MAX_ID or v:find("[%z\1-\31\127,]") then
    f:add(path, "must be 2 to " .. MAX_ID .. " bytes without control characters or ','")
  end
end


local function adoption(body)
  local f = errors.fields()
  f:unknown(body, ADOPT_FIELDS)
  for _, k in ipairs({ "frontend", "meeting_id", "backend" }) do
    if body[k] == nil then
      f:add(k, "is required")
    end
  end
  if body.frontend ~= nil then
    f:kind("frontend", body.frontend, "string")
  end
  if body.backend ~= nil then
    f:kind("backend", body.backend, "string")
  end
  if body.meeting_id ~= nil then
    check_id(f, "meeting_id", body.meeting_id)
  end
  if body.backend_meeting_id ~= nil then
    check_id(f, "backend_meeting_id", body.backend_meeting_id)
  end
  for _, k in ipairs({ "name", "attendee_pw", "moderator_pw", "internal_id" }) do
    if body[k] ~= nil and body[k] ~= json.null then
      f:kind(k, body[k], "string")
    end
  end
  if body.create_time ~= nil and body.create_time ~= json.null then
    f:kind("create_time", body.create_time, "integer")
  end
  if not f:empty() then
    return nil, f:response()
  end
  local function opt(k)
    local v = body[k]
    return v ~= json.null and v or nil
  end
  return {
    frontend = body.frontend, meeting_id = body.meeting_id, backend = body.backend,
    backend_meeting_id = body.backend_meeting_id or body.meeting_id, name = opt("name"),
    attendee_pw = opt("attendee_pw"), moderator_pw = opt("moderator_pw"),
    internal_id = opt("internal_id"),
    create_time = body.create_time ~= json.null and body.create_time or nil,
  }
end


local function invalid(path, problem)
  local f = errors.fields()
  f:add(path, problem)
  return f:response()
end


-- The adopted row, found again after its INSERT did nothing: 200 when it is this very
-- mapping, else 409 naming what holds the frontend's meeting ID or the node's.
local function existing(rec, fe, be)
  local rows, err = db.query("SELECT " .. _M.COLUMNS .. _M.FROM
    .. " WHERE (m.frontend_id = $1::uuid AND m.meeting_id = $2) OR m.backend_meeting_id = $3"
    .. " ORDER BY m.id", fe.id, rec.meeting_id, rec.backend_meeting_id)
  if not rows then
    return err
  end
  for _, row in ipairs(rows) do
    if row.frontend_id == fe.id and row.meeting_id == rec.meeting_id then
      if db.val(row.backend_id) == be.id and row.backend_meeting_id == rec.backend_meeting_id then
        return errors.ok(_M.present(row))
      end
      return errors.conflict("meeting " .. rec.meeting_id .. " of frontend " .. fe.key
        .. " is already mapped to " .. row.backend_meeting_id .. " on "
        .. tostring(db.val(row.backend_host) or "no backend"))
    end
  end
  if rows[1] then
    return errors.conflict("the node's meeting " .. rec.backend_meeting_id
      .. " already belongs to meeting " .. rows[1].meeting_id .. " of frontend "
      .. rows[1].frontend_key)
  end
  -- the conflicting row went away in between: the caller may simply retry
  return errors.conflict("the meeting changed while it was adopted; try again")
end


-- POST /api/v1/meetings: maps a frontend's meeting ID to a meeting a node already runs, as
-- a confirmed row. Its create call is rebuilt as the poller's adoption does (sql/0006), with
-- the passwords, so a failover re-creates a meeting the same joins still fit.
function _M.create(ctx)
  local rec, err = errors.body_record(ctx.req, adoption)
  if not rec then
    return err
  end
  return db.tx(function()
    local fe, ferr = db.first("frontend", "SELECT id::text AS id, key FROM frontends"
      .. " WHERE key = $1 OR ($2::uuid IS NOT NULL AND id = $2::uuid)", rec.frontend,
      errors.is_uuid(rec.frontend) and rec.frontend or nil)
    if not fe then
      return ferr
    end
    -- b3scaled reaches the meeting through <key>~<meeting_id>: that must fit bbb-web's limit
    if #fe.key + 1 + #rec.meeting_id > MAX_ID then
      return invalid("meeting_id", "is too long for frontend " .. fe.key .. " (at most "
        .. (MAX_ID - #fe.key - 1) .. " bytes)")
    end
    -- a node ID in another frontend's namespace would show up in that frontend's lists
    local ns = rec.backend_meeting_id:match("^([^~]*)~")
    if ns and ns ~= fe.key then
      return invalid("backend_meeting_id", "contains '~' but is not in frontend " .. fe.key
        .. "'s namespace (" .. fe.key .. "~...)")
    end
    local be, berr = db.first("backend", "SELECT id::text AS id, host FROM backends"
      .. " WHERE ($1::uuid IS NOT NULL AND id = $1::uuid) OR host = $2 OR host = $3",
      errors.is_uuid(rec.backend) and rec.backend or nil, rec.backend,
      backends.normalise_host(rec.backend) or rec.backend)
    if not be then
      return berr
    end
    local rows
    rows, err = db.query("INSERT INTO meetings (frontend_id, meeting_id, backend_meeting_id,"
      .. " backend_id, internal_id, create_query, create_time, attendee_pw, moderator_pw,"
      .. " confirmed_at)"
      .. " SELECT $1::uuid, $2::text, $3::text, $4::uuid, $5::text, 'name=' || b3s_urlencode("
      .. "  CASE WHEN length($6::text) >= 2 THEN $6::text ELSE $2::text END) || '&meetingID='"
      .. "  || b3s_urlencode($3::text) || coalesce('&attendeePW=' || b3s_urlencode($8::text), '')"
      .. "  || coalesce('&moderatorPW=' || b3s_urlencode($9::text), ''), $7::bigint, $8::text,"
      .. "  $9::text, now()"
      .. " ON CONFLICT DO NOTHING RETURNING id::text AS id",
      fe.id, rec.meeting_id, rec.backend_meeting_id, be.id, rec.internal_id, rec.name,
      rec.create_time, rec.attendee_pw, rec.moderator_pw)
    if not rows then
      return err
    end
    if not rows[1] then
      return existing(rec, fe, be)
    end
    local row
    row, err = find(ctx, rows[1].id)
    if not row then
      return err
    end
    return errors.ok(_M.present(row), 201)
  end)
end


return _M
