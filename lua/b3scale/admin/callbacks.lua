-- b3scale.admin.callbacks: GET /api/v1/callbacks, the outbox as operators see it
-- (docs/callbacks.md, "Delivery"). The `b3scale` scope sees only its own frontends' rows;
-- rows of no frontend are for admins. A URL's query values, user info and fragment are
-- redacted: frontends put tokens there.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")

local tonumber, type = tonumber, type
local concat = table.concat

_M.STATES = { pending = true, delivered = true, failed = true, refused = true }
local STATE_PROBLEM = "must be one or more (comma-separated) of "
  .. concat(errors.sorted_keys(_M.STATES), ", ")

local COLUMNS = "c.id::text AS id, f.key AS frontend, c.kind, c.event_id, c.url, c.method,"
  .. " c.state, c.attempts::text AS attempts,"
  .. " CASE WHEN c.state = 'pending' THEN " .. db.TS:format("c.next_at") .. " END AS next_at,"
  .. " c.last_status::text AS last_status, c.last_error, " .. db.ts("c.created_at") .. ", "
  .. db.ts("c.delivered_at")


-- url with the values of its query, its user info and its fragment replaced by "redacted".
function _M.redact(url)
  if type(url) ~= "string" then
    return url
  end
  local base, rest = url:match("^([^?#]*)(.*)$")
  base = base:gsub("^(%a[%w+.-]*://)[^/]*@", "%1redacted@")
  local query, frag = rest:match("^%?([^#]*)(.*)$")
  if not query then
    query, frag = nil, rest
  end
  local out = { base }
  if query then
    out[#out + 1] = "?" .. query:gsub("([^&=]*)=([^&]*)", function(k, v)
      return k .. "=" .. (v == "" and "" or "redacted")
    end)
  end
  if frag ~= "" then
    out[#out + 1] = "#redacted"
  end
  return concat(out)
end


local function present(row)
  return {
    id = tonumber(row.id), frontend = db.val(row.frontend) or json.null, kind = row.kind,
    event_id = row.event_id, method = row.method, url = _M.redact(row.url),
    state = row.state, attempts = tonumber(row.attempts),
    next_at = db.val(row.next_at) or json.null,
    last_status = db.num(row.last_status) or json.null,
    last_error = db.val(row.last_error) or json.null,
    created_at = row.created_at, delivered_at = db.val(row.delivered_at) or json.null,
  }
end


-- "pending,failed" -> "pending,failed" when every name is a state, else nil
local function states(s)
  if type(s) ~= "string" or s == "" then
    return nil
  end
  for name in (s .. ","):gmatch("([^,]*),") do
    if not _M.STATES[name] then
      return nil
    end
  end
  return s
end


function _M.list(ctx)
  local q = ctx.query
  local f = errors.fields()
  local limit, offset = errors.page(q, f)
  if q.state ~= nil and not states(q.state) then
    f:add("state", STATE_PROBLEM)
  end
  if not f:empty() then
    return f:response()
  end
  return db.listing(present, "SELECT " .. COLUMNS
    .. " FROM callbacks c LEFT JOIN frontends f ON f.id = c.frontend_id"
    .. " WHERE ($1::text IS NULL OR f.key = $1)"
    .. " AND ($2::text IS NULL OR c.state = ANY (string_to_array($2::text, ',')))"
    .. " AND ($3::text IS NULL OR f.account_ref = $3)"
    .. " ORDER BY c.id DESC LIMIT $4::integer OFFSET $5::bigint",
    q.frontend, q.state, (not ctx.admin) and ctx.sub or nil, limit, offset)
end


return _M
