-- b3scale.admin: the admin REST API (docs/admin-api.md). C verifies the JWT and calls
-- handle(req) in a trusted per-worker state; this module routes, checks scopes and encodes.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")

local ipairs, pairs, type, tostring, pcall, require = ipairs, pairs, type, tostring, pcall,
  require
local concat = table.concat

local ADMIN, TENANT, NODE = "b3scale:admin", "b3scale", "b3scale:node"

-- method, template, module, function, scopes besides admin (nil: none needed at all;
-- "any": any valid token)
local ROUTES = {
  { "GET", "/api/v1", "status", "show", "any" },
  { "GET", "/api/v1/status", "status", "show", "any" },
  { "GET", "/api/v1/openapi.json", "status", "openapi", nil },
  { "GET", "/api/v1/frontends", "frontends", "list", { TENANT } },
  { "POST", "/api/v1/frontends", "frontends", "create", {} },
  { "GET", "/api/v1/frontends/{id}", "frontends", "show", { TENANT } },
  { "PATCH", "/api/v1/frontends/{id}", "frontends", "update", { TENANT } },
  { "DELETE", "/api/v1/frontends/{id}", "frontends", "destroy", {} },
  { "GET", "/api/v1/backends", "backends", "list", { NODE } },
  { "POST", "/api/v1/backends", "backends", "create", { NODE } },
  { "GET", "/api/v1/backends/{id}", "backends", "show", { NODE } },
  -- a node token may register its one backend (POST) and report state (agent/*), nothing
  -- else: changing a backend's host, secret, load factor, state or tags is for admins
  { "PATCH", "/api/v1/backends/{id}", "backends", "update", {} },
  { "DELETE", "/api/v1/backends/{id}", "backends", "destroy", {} },
  { "GET", "/api/v1/meetings", "meetings", "list", { TENANT } },
  -- adopting a meeting a node already runs (a switch from another balancer): admins only
  { "POST", "/api/v1/meetings", "meetings", "create", {} },
  { "GET", "/api/v1/meetings/{id}", "meetings", "show", { TENANT } },
  { "DELETE", "/api/v1/meetings/{id}", "meetings", "destroy", { TENANT } },
  { "GET", "/api/v1/recordings", "recordings", "list", { TENANT } },
  { "GET", "/api/v1/recordings/{id}", "recordings", "show", { TENANT } },
  { "PATCH", "/api/v1/recordings/{id}", "recordings", "update", { TENANT } },
  { "DELETE", "/api/v1/recordings/{id}", "recordings", "destroy", { TENANT } },
  { "GET", "/api/v1/callbacks", "callbacks", "list", { TENANT } },
  { "GET", "/api/v1/usage", "usage", "list", { TENANT } },
  { "POST", "/api/v1/commands", "commands", "create", {} },
  { "GET", "/api/v1/agent/backend", "agent", "backend", { NODE } },
  { "POST", "/api/v1/agent/heartbeat", "agent", "heartbeat", { NODE } },
  { "POST", "/api/v1/agent/state", "agent", "state", { NODE } },
  { "POST", "/api/v1/agent/events", "agent", "events", { NODE } },
  { "GET", "/api/v1/cluster", "cluster", "show", {} },
}


-- { {method, template}, ... } for the OpenAPI coverage spec.
function _M.routes()
  local out = {}
  for i, r in ipairs(ROUTES) do
    out[i] = { r[1], r[2] }
  end
  return out
end


local function split(path)
  local segs = {}
  for s in path:gmatch("[^/]+") do
    segs[#segs + 1] = s
  end
  return segs
end


local function match(template, segs)
  local t = split(template)
  if #t ~= #segs then
    return nil
  end
  local params = {}
  for i, s in ipairs(t) do
    local name = s:match("^{(.+)}$")
    if name then
      params[name] = segs[i]
    elseif s ~= segs[i] then
      return nil
    end
  end
  return params
end


local function scopes_of(claims)
  local set = {}
  if type(claims.scopes) == "table" then
    for k, v in pairs(claims.scopes) do
      if v == true then
        set[k] = true
      elseif type(v) == "string" then
        set[v] = true
      end
    end
  end
  if type(claims.scope) == "string" then
    for s in claims.scope:gmatch("%S+") do
      set[s] = true
    end
  end
  return set
end


-- The caller's role for a route: "admin", "tenant", "node", "any", or nil and a 403.
local function role_for(route, claims)
  local allowed = route[5]
  local scopes = scopes_of(claims)
  if scopes[ADMIN] then
    return "admin", scopes
  end
  if allowed == "any" then
    return "any", scopes
  end
  local sub = claims.sub
  for _, s in ipairs(allowed) do
    if scopes[s] then
      if type(sub) ~= "string" or sub == "" then
        return nil, errors.forbidden("token has no sub claim")
      end
      return (s == NODE) and "node" or "tenant", scopes
    end
  end
  local names = { ADMIN }
  for _, s in ipairs(allowed) do
    names[#names + 1] = s
  end
  return nil, errors.forbidden("scope " .. concat(names, " or ") .. " required")
end


local function dispatch(req)
  local path = req.path or ""
  if #path > 1 then
    path = path:gsub("/+$", "")
  end
  local segs = split(path)
  local found, allowed = false, {}
  for _, route in ipairs(ROUTES) do
    local params = match(route[2], segs)
    if params then
      found = true
      allowed[#allowed + 1] = route[1]
      if route[1] == req.method then
        local handlers = require("b3scale.admin." .. route[3])
        if route[5] == nil then
          return handlers[route[4]]({ req = req, params = params, query = req.query or {} })
        end
        local claims = req.claims or {}
        local role, scopes = role_for(route, claims)
        if not role then
          return scopes
        end
        if req.body and #req.body > (req.max_body or 1048576) then
          return errors.err(413, "too_large", "request body is larger than "
            .. tostring(req.max_body or 1048576) .. " bytes")
        end
        local ctx = {
          req = req, params = params, query = req.query or {}, role = role,
          admin = role == "admin", sub = claims.sub, scopes = scopes,
        }
        return handlers[route[4]](ctx)
      end
    end
  end
  if found then
    return errors.err(405, "method_not_allowed", "method " .. tostring(req.method)
      .. " not allowed; allowed: " .. concat(allowed, ", "))
  end
  return errors.not_found("path")
end


-- Entry point C calls: returns status, JSON body, content type.
function _M.handle(req)
  local ok, resp = pcall(dispatch, req)
  if not ok then
    local has_host, host = pcall(require, "b3scale.admin_host")
    if has_host and type(host) == "table" then
      pcall(host.log, "error", "admin api: " .. tostring(req.method) .. " "
        .. tostring(req.path) .. ": " .. tostring(resp))
    end
    resp = errors.err(500, "internal_error", "internal error")
  end
  return resp[1], json.encode(resp[2]), "application/json"
end


return _M
