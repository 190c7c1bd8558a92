-- b3scale.admin.settings: shape checks for frontend and backend settings. Frontend settings
-- keep unknown keys (docs/frontend-settings.md); the known ones must have their documented
-- shape, so a typo'd type is refused here instead of being silently ignored at create time.
local _M = {}

local json = require("b3scale.admin.json")

local type, pairs, ipairs = type, pairs, ipairs

_M.TAG_PATTERN = "^[A-Za-z0-9_.:-]+$"
local TAG_PROBLEM = "must match ^[A-Za-z0-9_.:-]+$"
-- b3scale's recording visibilities (docs/recordings.md)
_M.VISIBILITY = { unpublished = true, published = true, protected = true, public = true,
  public_protected = true }
local PARAM_KEYS = { "create_default_params", "create_override_params",
  "join_default_params", "join_override_params" }
-- an integer or { "limit": integer }; 0 is off (docs/frontend-settings.md)
local LIMIT_KEYS = { "attendees_limit", "meetings_limit" }
local MAX_LIMIT = 2147483647


local function params_object(f, path, v)
  if not f:kind(path, v, "object") then
    return
  end
  for k, x in pairs(v) do
    local t = type(x)
    if t ~= "string" and t ~= "number" and t ~= "boolean" then
      f:add(path .. "." .. k, "must be a string, number or boolean")
    end
  end
end


-- Tenant webhooks (docs/callbacks.md): the URL's target is checked at each delivery (the
-- outbox's SSRF guard), since what a name resolves to can change after it was written.
local WEBHOOK_EVENTS = { ["meeting-created"] = true, ["meeting-started"] = true,
  ["meeting-ended"] = true, ["user-joined"] = true, ["user-left"] = true,
  ["recording-ready"] = true }
local MAX_WEBHOOKS, MAX_WEBHOOK_SECRET, MAX_WEBHOOK_URL = 16, 256, 2048

local function check_webhooks(f, list)
  if not f:kind("settings.webhooks", list, "array") then
    return
  end
  if #list > MAX_WEBHOOKS then
    f:add("settings.webhooks", "at most " .. MAX_WEBHOOKS .. " webhooks")
  end
  for i, w in ipairs(list) do
    local p = "settings.webhooks[" .. (i - 1) .. "]"
    if f:kind(p, w, "object") then
      f:unknown(w, { url = true, events = true, secret = true }, p .. ".")
      if w.url == nil then
        f:add(p .. ".url", "is required")
      elseif f:kind(p .. ".url", w.url, "string")
          and (not w.url:find("^[Hh][Tt][Tt][Pp][Ss]?://[^/?#%s]") or w.url:find("%s")
            or #w.url > MAX_WEBHOOK_URL) then
        f:add(p .. ".url", "must be an http(s) URL of at most " .. MAX_WEBHOOK_URL .. " bytes")
      end
      if w.events == nil then
        f:add(p .. ".events", "is required")
      elseif f:string_array(p .. ".events", w.events) then
        if #w.events == 0 then
          f:add(p .. ".events", "must name at least one event")
        end
        for j, e in ipairs(w.events) do
          if not WEBHOOK_EVENTS[e] then
            f:add(p .. ".events[" .. (j - 1) .. "]", "must be one of meeting-created,"
              .. " meeting-started, meeting-ended, user-joined, user-left, recording-ready")
          end
        end
      end
      if w.secret == nil then
        f:add(p .. ".secret", "is required")
      elseif f:kind(p .. ".secret", w.secret, "string")
          and (#w.secret == 0 or #w.secret > MAX_WEBHOOK_SECRET) then
        f:add(p .. ".secret", "must be 1 to " .. MAX_WEBHOOK_SECRET .. " bytes")
      end
    end
  end
end


-- Frontend settings: an object; documented keys checked, others kept as they are.
function _M.check_frontend(f, s)
  if not f:kind("settings", s, "object") then
    return
  end
  if s.required_tags ~= nil then
    f:string_array("settings.required_tags", s.required_tags, _M.TAG_PATTERN, TAG_PROBLEM)
  end
  if s.policy ~= nil and f:kind("settings.policy", s.policy, "string")
      and not s.policy:find("^[A-Za-z0-9_-]+$") then
    f:add("settings.policy", "must be a policy name (^[A-Za-z0-9_-]+$)")
  end
  for _, k in ipairs(PARAM_KEYS) do
    if s[k] ~= nil then
      params_object(f, "settings." .. k, s[k])
    end
  end
  local p = s.default_presentation
  if p ~= nil and f:kind("settings.default_presentation", p, "object") then
    f:unknown(p, { url = true, force = true }, "settings.default_presentation.")
    if p.url == nil then
      f:add("settings.default_presentation.url", "is required")
    elseif f:kind("settings.default_presentation.url", p.url, "string")
        and not p.url:find("^https?://") then
      f:add("settings.default_presentation.url", "must be an http(s) URL")
    end
    if p.force ~= nil then
      f:kind("settings.default_presentation.force", p.force, "boolean")
    end
  end
  local r = s.recordings
  if r ~= nil and f:kind("settings.recordings", r, "object") then
    f:unknown(r, { visibility = true, retention_days = true }, "settings.recordings.")
    if r.visibility ~= nil and f:kind("settings.recordings.visibility", r.visibility, "string")
        and not _M.VISIBILITY[r.visibility] then
      f:add("settings.recordings.visibility",
        "must be one of unpublished, published, protected, public, public_protected")
    end
    if r.retention_days ~= nil and f:kind("settings.recordings.retention_days",
        r.retention_days, "integer") and r.retention_days < 0 then
      f:add("settings.recordings.retention_days", "must be >= 0 (0 keeps recordings)")
    end
  end
  local cb = s.callbacks
  if cb ~= nil and f:kind("settings.callbacks", cb, "object") then
    f:unknown(cb, { jwt_alg = true }, "settings.callbacks.")
    if cb.jwt_alg ~= nil and f:kind("settings.callbacks.jwt_alg", cb.jwt_alg, "string")
        and cb.jwt_alg ~= "HS256" and cb.jwt_alg ~= "HS512" then
      f:add("settings.callbacks.jwt_alg", "must be HS256 or HS512")
    end
  end
  if s.webhooks ~= nil then
    check_webhooks(f, s.webhooks)
  end
  for _, k in ipairs(LIMIT_KEYS) do
    local l = s[k]
    if l ~= nil then
      local path, n = "settings." .. k, l
      if json.is_object(l) then
        f:unknown(l, { limit = true }, path .. ".")
        path, n = path .. ".limit", l.limit
      end
      if f:kind(path, n, "integer") then
        if n < 0 then
          f:add(path, "must be >= 0")
        elseif n > MAX_LIMIT then
          f:add(path, "must be <= " .. MAX_LIMIT)
        end
      end
    end
  end
end


-- Backend settings: exactly { "tags": [...] } (tags optional); returns the tag list.
function _M.check_backend(f, s)
  if s == nil then
    return json.array()
  end
  if not f:kind("settings", s, "object") then
    return json.array()
  end
  f:unknown(s, { tags = true }, "settings.")
  if s.tags == nil then
    return json.array()
  end
  f:string_array("settings.tags", s.tags, _M.TAG_PATTERN, TAG_PROBLEM)
  return s.tags
end


return _M
