-- b3scale.admin.meetings: /api/v1/meetings. The `b3scale` scope sees only meetings of its
-- own frontends. DELETE ends the meeting on its node (BBB `end`) before removing the record.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")
local backends = require("b3scale.admin.backends")

local ipairs, tonumber, tostring, type = ipairs, tonumber, tostring, type

_M.FROM = " FROM meetings m JOIN frontends f ON f.id = m.frontend_id"
  .. " LEFT JOIN backends b ON b.id = m.backend_id"
_M.COLUMNS = "m.id::text AS id, m.frontend_id::text AS frontend_id, f.key AS frontend_key,"
  .. " m.meeting_id, m.backend_meeting_id, m.backend_id::text AS backend_id,"
  .. " b.host AS backend_host, b.secret AS backend_secret, m.internal_id,"
  .. " m.running::text AS running, m.participants::text AS participants,"
  .. " m.create_time::text AS create_time, " .. db.ts("m.created_at") .. ", "
  .. db.ts("m.updated_at")


function _M.present(row)
  return {
    id = row.id, frontend_id = row.frontend_id, frontend_key = row.frontend_key,
    meeting_id = row.meeting_id, backend_id = db.val(row.backend_id) or json.null,
    backend_host = db.val(row.backend_host) or json.null,
    internal_id = db.val(row.internal_id) or json.null, running = db.bool(row.running),
    participants = tonumber(row.participants) or 0,
    create_time = db.num(row.create_time) or json.null,
    created_at = row.created_at, updated_at = row.updated_at,
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


return _M
