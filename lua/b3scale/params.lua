-- b3scale.params: the default create/join parameter decisions for a frontend's settings.
-- The C core calls create(req) for every create and join(req) for every join (through the
-- dispatcher), unless the frontend's policy has its own create_params / join_params hook.
-- Pure functions: no I/O, no globals, nothing in req or in the (shared, cached) settings is
-- modified. See docs/frontend-settings.md for the operator-facing rules.
local _M = {}

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local floor, huge = math.floor, math.huge
local byte, char, format, gsub, gmatch, find, match =
  string.byte, string.char, string.format, string.gsub, string.gmatch, string.find, string.match
local concat = table.concat

-- Parameters no frontend setting may set: the core has already resolved and namespaced the
-- meeting ID, and it signs every forwarded call itself.
local RESERVED = { meetingID = true, checksum = true }

local DISABLED = "disabledFeatures"
local DISABLED_EXCLUDE = "disabledFeaturesExclude"

local DEFAULT_FILENAME = "default.pdf"

local XML_ESCAPES = {
  ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;",
}

local LIMIT_KEY = "maxParticipantsReached"
local LIMIT_MESSAGE = "The frontend's attendee limit has been reached."


-- A settings value as the string BBB expects: strings as they are, booleans as
-- "true"/"false", integral numbers without a fraction ("42", not "42.0"), other finite
-- numbers in their shortest usual form. Anything else (tables, JSON null, NaN, infinities)
-- gives nil, meaning "no value".
function _M.to_bbb_string(v)
  local t = type(v)
  if t == "string" then
    return v
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then
      return nil
    end
    if v == floor(v) then
      if v == 0 then
        return "0"
      end
      return format("%.0f", v)
    end
    return tostring(v)
  end
  return nil
end


local function trim(s)
  return match(s, "^%s*(.-)%s*$")
end


-- Splits a comma-separated list into `out`, skipping blank items and items already in
-- `seen`; returns out.
local function add_items(out, seen, list)
  if type(list) ~= "string" then
    return out
  end
  for item in gmatch(list, "[^,]+") do
    item = trim(item)
    if item ~= "" and not seen[item] then
      seen[item] = true
      out[#out + 1] = item
    end
  end
  return out
end


-- Set union of two comma-separated lists: a's items first, then b's items not yet present;
-- items are trimmed, blanks and duplicates dropped. Non-strings count as empty lists.
-- Returns the joined list ("" when empty).
function _M.merge_list(a, b)
  local seen, out = {}, {}
  add_items(out, seen, a)
  add_items(out, seen, b)
  return concat(out, ",")
end


-- The settings object `name` as a map of usable parameters: only non-empty string keys that
-- are not reserved, with values converted by to_bbb_string (unconvertible values dropped).
-- A missing or non-object setting gives an empty map.
local function param_map(settings, name)
  local src = settings[name]
  local out = {}
  if type(src) ~= "table" then
    return out
  end
  for k, v in pairs(src) do
    if type(k) == "string" and k ~= "" and not RESERVED[k] then
      local s = _M.to_bbb_string(v)
      if s ~= nil then
        out[k] = s
      end
    end
  end
  return out
end


local function copy(t)
  local out = {}
  if type(t) == "table" then
    for k, v in pairs(t) do
      out[k] = v
    end
  end
  return out
end


-- Request params overlaid with defaults (absent keys only) and overrides (always).
-- Keys listed in `merged` are left out; the caller merges those itself.
local function apply(params, defaults, overrides, merged)
  for k, v in pairs(defaults) do
    if params[k] == nil and not merged[k] then
      params[k] = v
    end
  end
  for k, v in pairs(overrides) do
    if not merged[k] then
      params[k] = v
    end
  end
  return params
end


-- disabledFeatures on create: the request's list, then the defaults' and the overrides'
-- items, as one set. Features the operator lists are also taken out of
-- disabledFeaturesExclude, so a client cannot switch them back on. Without any operator
-- list, both parameters pass through exactly as sent.
local function merge_disabled(params, defaults, overrides)
  local d, o = defaults[DISABLED], overrides[DISABLED]
  if d == nil and o == nil then
    return
  end
  local operator = _M.merge_list(d, o)
  local merged = _M.merge_list(params[DISABLED], operator)
  params[DISABLED] = merged ~= "" and merged or nil

  local exclude = params[DISABLED_EXCLUDE]
  if exclude == nil or operator == "" then
    return
  end
  local forced = {}
  add_items({}, forced, operator)
  local kept = {}
  add_items(kept, forced, exclude)
  if #kept > 0 then
    params[DISABLED_EXCLUDE] = concat(kept, ",")
  else
    params[DISABLED_EXCLUDE] = nil
  end
end


local function settings_of(req)
  local fe = req.frontend
  local s = type(fe) == "table" and fe.settings or nil
  if type(s) ~= "table" then
    return {}
  end
  return s
end


-- True when s is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
local function is_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    local len, lo, hi = 1, 0x80, 0xBF
    if c < 0x80 then
      len = 1
    elseif c >= 0xC2 and c <= 0xDF then
      len = 2
    elseif c >= 0xE0 and c <= 0xEF then
      len = 3
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      len = 4
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else
      return false
    end
    for j = 1, len - 1 do
      local d = byte(s, i + j)
      if d == nil or d < (j == 1 and lo or 0x80) or d > (j == 1 and hi or 0xBF) then
        return false
      end
    end
    i = i + len
  end
  return true
end


-- Percent-decodes s; returns nil when the result is not UTF-8 or holds a path separator or
-- a control byte.
local function safe_decode(s)
  local out = gsub(s, "%%(%x%x)", function(h)
    return char(tonumber(h, 16))
  end)
  if find(out, "[%c/\\]") or not is_utf8(out) then
    return nil
  end
  return out
end


-- The file name BBB shows for a presentation URL: the last path segment without query
-- string or fragment, percent-decoded when that is safe; "default.pdf" when there is none.
function _M.presentation_filename(url)
  local path = gsub(url, "[?#].*$", "")
  path = gsub(path, "^%a[%w+.-]*://[^/]*", "")
  local seg = match(path, "([^/]*)$") or ""
  seg = safe_decode(seg) or seg
  if seg == "" or seg == "." or seg == ".." then
    return DEFAULT_FILENAME
  end
  return seg
end


local function xml_escape(s)
  return (gsub(s, "[&<>\"']", XML_ESCAPES))
end


-- Bytes a URL must not carry raw (controls and spaces) as %XX; they cannot all appear in XML.
local function url_clean(s)
  return (gsub(s, "[%c ]", function(c)
    return format("%%%02X", byte(c))
  end))
end


-- The create body that makes BBB preload the presentation at url.
function _M.presentation_body(url)
  local clean = url_clean(url)
  return '<modules><module name="presentation"><document url="' .. xml_escape(clean)
    .. '" filename="' .. xml_escape(_M.presentation_filename(clean))
    .. '"/></module></modules>'
end


local function has_body(body)
  return type(body) == "string" and find(body, "%S") ~= nil
end


-- The default presentation setting as (url, force), or nil when it is off or malformed.
local function default_presentation(settings)
  local dp = settings.default_presentation
  if type(dp) ~= "table" or type(dp.url) ~= "string" then
    return nil
  end
  local url = trim(dp.url)
  if url == "" then
    return nil
  end
  return url, dp.force == true
end


-- req = { frontend = { key, settings }, meeting_id, params, body, content_type }.
-- Returns { params = new map, body = string|nil, content_type = string|nil },
-- or nil, messageKey, message to reject the create (the default rules never reject).
function _M.create(req)
  local settings = settings_of(req)
  local defaults = param_map(settings, "create_default_params")
  local overrides = param_map(settings, "create_override_params")

  local params = apply(copy(req.params), defaults, overrides, { [DISABLED] = true })
  merge_disabled(params, defaults, overrides)

  local body, content_type = req.body, req.content_type
  local url, force = default_presentation(settings)
  if url and (force or not has_body(body)) then
    body = _M.presentation_body(url)
    content_type = "application/xml"
  end
  return { params = params, body = body, content_type = content_type }
end


-- The attendees_limit setting as a number (> 0), or nil when the check is off.
local function attendees_limit(settings)
  local al = settings.attendees_limit
  if type(al) == "table" then
    al = al.limit
  end
  if type(al) ~= "number" or al ~= al or al <= 0 then
    return nil
  end
  return al
end


-- req = { frontend = { key, settings }, meeting_id, params, frontend_attendees,
-- meeting_attendees }. Returns { params = new map }, or nil, "maxParticipantsReached",
-- message when the frontend's attendee limit is reached.
function _M.join(req)
  local settings = settings_of(req)
  local limit = attendees_limit(settings)
  if limit then
    local n = tonumber(req.frontend_attendees) or 0
    if n >= limit then
      return nil, LIMIT_KEY, LIMIT_MESSAGE
    end
  end
  local defaults = param_map(settings, "join_default_params")
  local overrides = param_map(settings, "join_override_params")
  return { params = apply(copy(req.params), defaults, overrides, {}) }
end


return _M
