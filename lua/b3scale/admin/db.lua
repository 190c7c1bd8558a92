-- b3scale.admin.db: the admin handlers' only way to Postgres, through the C binding
-- b3scale.admin_host (required lazily, so these modules load under busted without it).
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")

local require, tostring, tonumber, pcall, error, ipairs, type = require, tostring, tonumber,
  pcall, error, ipairs, type
local date = os.date

-- timestamptz as RFC 3339 UTC, for SELECT lists
_M.TS = [[to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')]]


function _M.host()
  return require("b3scale.admin_host")
end


function _M.null()
  return _M.host().null
end


function _M.ts(column, alias)
  return _M.TS:format(column) .. " AS " .. (alias or column:match("([%w_]+)$"))
end


-- An epoch as RFC 3339 UTC (as ts renders a timestamptz), or JSON null without one.
function _M.rfc3339(epoch)
  if type(epoch) ~= "number" then
    return json.null
  end
  return date("!%Y-%m-%dT%H:%M:%SZ", epoch)
end


-- The policy engine's generation and last reload error from host.status() `st`, as both
-- /api/v1/status and /api/v1/cluster report them.
function _M.policy_status(st)
  return {
    generation = st.policy_generation,
    last_reload_error = _M.val(st.last_reload_error) or json.null,
    last_reload_error_at = _M.rfc3339(_M.val(st.last_reload_error_at)),
  }
end


-- Maps a failed statement to a response. `conflict` is the 409 message for 23505.
local function failure(message, sqlstate, conflict)
  local host = _M.host()
  sqlstate = sqlstate or ""
  if sqlstate == "23505" and conflict then
    return errors.conflict(conflict)
  elseif sqlstate == "23514" or sqlstate == "22P02" or sqlstate == "23502" then
    local f = errors.fields()
    f:add("body", "rejected by the database: " .. tostring(message))
    return f:response()
  elseif sqlstate == "" or sqlstate:sub(1, 2) == "08" or sqlstate:sub(1, 2) == "57"
      or sqlstate == "40001" or sqlstate == "40P01" then
    host.log("warn", "admin api: database unavailable: " .. tostring(message))
    return errors.err(503, "unavailable", "database unavailable")
  end
  host.log("error", "admin api: query failed (" .. sqlstate .. "): " .. tostring(message))
  return errors.err(500, "internal_error", "database error")
end


-- Runs one statement: rows, or nil and a response.
function _M.query(sql, ...)
  local rows, message, sqlstate = _M.host().query(sql, ...)
  if not rows then
    return nil, failure(message, sqlstate)
  end
  return rows
end


-- Like query, but a unique violation (23505) answers 409 with the message `conflict`.
function _M.write(conflict, sql, ...)
  local rows, message, sqlstate = _M.host().query(sql, ...)
  if not rows then
    return nil, failure(message, sqlstate, conflict)
  end
  return rows
end


-- The first row of a statement, or nil and a response: 404 "<what> not found" without one.
function _M.first(what, sql, ...)
  local rows, err = _M.query(sql, ...)
  if not rows then
    return nil, err
  end
  if not rows[1] then
    return nil, errors.not_found(what)
  end
  return rows[1]
end


-- The rows of a statement, each through present, as a JSON array; or nil and a response.
function _M.map(present, sql, ...)
  local rows, err = _M.query(sql, ...)
  if not rows then
    return nil, err
  end
  local out = json.array()
  for i, row in ipairs(rows) do
    out[i] = present(row)
  end
  return out
end


-- A list endpoint's answer: 200 with the rows through present (see map), or the failure.
function _M.listing(present, sql, ...)
  local out, err = _M.map(present, sql, ...)
  if not out then
    return err
  end
  return errors.ok(out)
end


-- Runs fn() inside BEGIN/COMMIT; fn returns a response. Any 4xx/5xx or error rolls back.
function _M.tx(fn)
  local ok, res = _M.query("BEGIN")
  if not ok then
    return res
  end
  local done, resp = pcall(fn)
  if not done or resp[1] >= 400 then
    _M.host().query("ROLLBACK")
    if not done then
      error(resp, 0)
    end
    return resp
  end
  ok, res = _M.query("COMMIT")
  if not ok then
    _M.host().query("ROLLBACK")
    return res
  end
  return resp
end


-- SQL NULL (host.null) to Lua nil; anything else unchanged.
-- This instance's view of calls to a backend (circuit breaker, bulkhead), as the API shows it.
local CLOSED = { state = "closed", inflight = 0, failures = 0, rejected = 0, opened = 0 }
function _M.circuits()
  local host = _M.host()
  local all = type(host.node_health) == "function" and host.node_health() or {}
  return function(id)
    local c = all[id] or CLOSED
    return { state = c.state, inflight = c.inflight, failures = c.failures,
      rejected = c.rejected, opened = c.opened }
  end
end


function _M.val(v)
  if v == nil or v == _M.host().null then
    return nil
  end
  return v
end


function _M.bool(v)
  return v == "t" or v == "true"
end


function _M.num(v)
  v = _M.val(v)
  return v and tonumber(v) or nil
end


return _M
