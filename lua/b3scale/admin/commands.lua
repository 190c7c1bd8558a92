-- b3scale.admin.commands: POST /api/v1/commands. Only end_all_meetings, run at once (not
-- queued as b3scale does) with a per-meeting report.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")
local meetings = require("b3scale.admin.meetings")

local ipairs, tostring = ipairs, tostring


local function end_all(backend_id)
  local found, err = db.first("backend", "SELECT id::text AS id FROM backends"
    .. " WHERE id = $1::uuid", backend_id)
  if not found then
    return err
  end
  local rows
  rows, err = db.query("SELECT " .. meetings.COLUMNS .. meetings.FROM
    .. " WHERE m.backend_id = $1::uuid ORDER BY m.id", backend_id)
  if not rows then
    return err
  end
  local ended, failed, unreachable = 0, json.array(), nil
  for _, row in ipairs(rows) do
    local ok, problem, transport
    if unreachable then
      problem = unreachable              -- one unreachable node: do not wait on it again
    else
      ok, problem, transport = meetings.end_on_node(row)
      if transport then
        unreachable = problem
      end
    end
    if ok then
      ok, err = meetings.forget(row.id)
      if not ok then
        problem = "ended on the node, but the record could not be removed: "
          .. tostring(err[2].message)
      end
    end
    if ok then
      ended = ended + 1
    else
      failed[#failed + 1] = { id = row.id, meeting_id = row.meeting_id,
        frontend_key = row.frontend_key, error = problem }
    end
  end
  return errors.ok({
    action = "end_all_meetings", params = { backend_id = backend_id },
    result = { ended = ended, failed = failed },
  })
end


-- The backend id a command body names (lower-cased), or nil and a 400 response.
local function validate(body)
  local f = errors.fields()
  f:unknown(body, { action = true, params = true })
  local action, params = body.action, body.params
  if action == nil then
    f:add("action", "is required")
  elseif f:kind("action", action, "string") and action ~= "end_all_meetings" then
    f:add("action", "must be one of end_all_meetings")
  end
  local id
  if params == nil then
    f:add("params", "is required")
  elseif f:kind("params", params, "object") then
    f:unknown(params, { backend_id = true, BackendID = true }, "params.")
    id = params.backend_id or params.BackendID      -- BackendID: b3scale's spelling
    if params.backend_id ~= nil and params.BackendID ~= nil then
      f:add("params.BackendID", "give backend_id or BackendID, not both")
    elseif id == nil then
      f:add("params.backend_id", "is required")
    elseif f:kind("params.backend_id", id, "string") and not errors.is_uuid(id) then
      f:add("params.backend_id", "must be a uuid")
    end
  end
  if not f:empty() then
    return nil, f:response()
  end
  return id:lower()
end


function _M.create(ctx)
  local id, err = errors.body_record(ctx.req, validate)
  if not id then
    return err
  end
  return end_all(id)
end


return _M
