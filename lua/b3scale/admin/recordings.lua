-- b3scale.admin.recordings: /api/v1/recordings (docs/recordings.md). Only imported
-- recordings (import_state 'done') exist here; the `b3scale` scope sees only those of its own
-- frontends, anything else is 404. A change that moves files (publish, unpublish, delete)
-- writes the row as it should end with `pending` set, then wakes the recordings thread,
-- which moves the trees (and removes a deleted recording's row); the import itself is
-- served in C (POST /api/v1/recordings/import).
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")
local settings = require("b3scale.admin.settings")

local tonumber, type = tonumber, type
local concat = table.concat

local STATES = { processing = true, processed = true, published = true, unpublished = true,
  deleted = true }
local STATE_PROBLEM = "must be one of " .. concat(errors.sorted_keys(STATES), ", ")
local VISIBILITY_PROBLEM = "must be one of "
  .. concat(errors.sorted_keys(settings.VISIBILITY), ", ")

local FROM = " FROM recordings r JOIN frontends f ON f.id = r.frontend_id"
local COLUMNS = "r.record_id, f.key AS frontend, r.meeting_id, r.name, r.state, r.visibility,"
  .. " r.start_time::text AS start_time, r.end_time::text AS end_time,"
  .. " r.participants::text AS participants, " .. db.ts("r.created_at") .. ","
  .. " coalesce((SELECT json_agg(json_build_object('format', rf.format, 'size', rf.size,"
  .. " 'length_ms', rf.length_ms) ORDER BY rf.format) FROM recording_formats rf"
  .. " WHERE rf.recording_id = r.id AND rf.staging IS NULL), '[]')::text AS formats"
-- one visible recording: $1 its record ID, $2 the tenant's sub (NULL for admins)
local ONE = " r.record_id = $1 AND r.import_state = 'done'"
  .. " AND ($2::text IS NULL OR f.account_ref = $2)"


local function present(row)
  return {
    record_id = row.record_id, frontend = row.frontend, meeting_id = row.meeting_id,
    name = row.name, state = row.state, visibility = row.visibility,
    start_time = tonumber(row.start_time), end_time = tonumber(row.end_time),
    participants = tonumber(row.participants), formats = json.raw(row.formats),
    created_at = row.created_at,
  }
end


local function owner(ctx)
  return (not ctx.admin) and ctx.sub or nil
end


-- The record ID of a path, or nil and a 404 (record IDs are 1 to 256 characters).
local function record_id(ctx)
  local id = ctx.params.id
  if type(id) ~= "string" or #id > 256 then
    return nil, errors.not_found("recording")
  end
  return id
end


function _M.list(ctx)
  local q = ctx.query
  local f = errors.fields()
  local limit, offset = errors.page(q, f)
  if q.state ~= nil and not STATES[q.state] then
    f:add("state", STATE_PROBLEM)
  end
  if not f:empty() then
    return f:response()
  end
  return db.listing(present, "SELECT " .. COLUMNS .. FROM .. " WHERE r.import_state = 'done'"
    .. " AND ($1::text IS NULL OR f.key = $1) AND ($2::text IS NULL OR r.meeting_id = $2)"
    .. " AND ($3::text IS NULL OR r.state = $3) AND ($4::text IS NULL OR f.account_ref = $4)"
    .. " ORDER BY r.start_time DESC, r.id DESC LIMIT $5::integer OFFSET $6::bigint",
    q.frontend, q.meeting, q.state, owner(ctx), limit, offset)
end


function _M.show(ctx)
  local id, err = record_id(ctx)
  if not id then
    return err
  end
  return errors.shown(present, db.first("recording", "SELECT " .. COLUMNS .. FROM
    .. " WHERE" .. ONE, id, owner(ctx)))
end


-- Writes `set` (SQL assignments; its parameters, ..., are $3 on) into one visible recording
-- that is not being deleted, and wakes the recordings thread when the row is pending: the
-- response.
local function change(ctx, set, ...)
  local id, err = record_id(ctx)
  if not id then
    return err
  end
  local row
  row, err = db.first("recording", "UPDATE recordings r SET " .. set .. ", updated_at = now()"
    .. " FROM frontends f WHERE f.id = r.frontend_id AND r.state <> 'deleted' AND" .. ONE
    .. " RETURNING r.pending::text AS pending, " .. COLUMNS, id, owner(ctx), ...)
  if not row then
    return err
  end
  if db.bool(row.pending) then
    db.host().recordings_changed()
  end
  return errors.ok(present(row))
end


function _M.update(ctx)
  local body, err = errors.body_object(ctx.req)
  if not body then
    return err
  end
  local f = errors.fields()
  f:unknown(body, { visibility = true })
  local v = body.visibility
  if v == nil then
    f:add("visibility", "is required")
  elseif f:kind("visibility", v, "string") and not settings.VISIBILITY[v] then
    f:add("visibility", VISIBILITY_PROBLEM)
  end
  if not f:empty() then
    return f:response()
  end
  local state = v == "unpublished" and "unpublished" or "published"
  -- the files move only when the state changes
  return change(ctx, "visibility = $3, state = $4, pending = r.pending OR r.state <> $4",
    v, state)
end


function _M.destroy(ctx)
  return change(ctx, "state = 'deleted', pending = true")
end


return _M
