-- b3scale.admin.status: GET /api/v1 and /api/v1/status (no database query, so it answers
-- while Postgres is down and says so).
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")

local ipairs, type = ipairs, type


function _M.show(ctx)
  local st = db.host().status()
  local pending = json.null
  if type(st.pending_migrations) == "table" then
    pending = json.array()
    for i, name in ipairs(st.pending_migrations) do
      pending[i] = name
    end
  end
  return errors.ok({
    version = st.version,
    api = "v1",
    sub = ctx.sub or json.null,
    account_ref = ctx.sub or json.null,
    scopes = errors.sorted_keys(ctx.scopes),
    is_admin = ctx.admin,
    database = { available = st.db_available == true, pending_migrations = pending },
    policy = db.policy_status(st),
  })
end


-- C answers /api/v1/openapi.json before Lua is called; this is only reached without it.
function _M.openapi()
  return errors.not_found("document")
end


return _M
