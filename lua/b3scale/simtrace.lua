-- b3scale.simtrace: the JSON side of `b3scaled simulate` (c/simulate.c, c/sim_trace.c):
-- decoding trace lines, the nodes and frontends files and policy test cases, and the
-- frontend settings each placement gets. Trusted code in the simulator's own helper state,
-- never in a policy sandbox; the policies run through c/policy.c as in the daemon.
local _M = {}

local cjson = require("cjson.safe")

local type, tostring, ipairs, pairs, floor = type, tostring, ipairs, pairs, math.floor
local huge = math.huge

local EVENTS = { create = true, ["end"] = true, join = true, leave = true }
local MAX_ID = 256        -- a meeting ID, as bbb-web takes it
local MAX_KEY = 71        -- a frontend key (c/lb.h)
local MAX_NODES = 10000

local function finite(x)
  return type(x) == "number" and x == x and x > -huge and x < huge
end

-- One trace line: t, event, frontend, meeting, size (-1 when absent); or nil and why.
function _M.event(line)
  local e, err = cjson.decode(line)
  if type(e) ~= "table" then
    return nil, "not a JSON object" .. (err and (": " .. tostring(err)) or "")
  end
  if not finite(e.t) or e.t < 0 then
    return nil, "t must be a number of seconds >= 0"
  end
  if not EVENTS[e.event] then
    return nil, "event must be create, end, join or leave"
  end
  if type(e.frontend) ~= "string" or #e.frontend == 0 or #e.frontend > MAX_KEY then
    return nil, "frontend must be a key of 1 to " .. MAX_KEY .. " bytes"
  end
  local m = e.meeting
  if type(m) == "number" and finite(m) then
    m = tostring(m)
  end
  if type(m) ~= "string" or #m == 0 or #m > MAX_ID or m:find("[%z\1-\31]") then
    return nil, "meeting must be an ID of 1 to " .. MAX_ID .. " bytes"
  end
  local size = e.size
  if size == nil or size == cjson.null then
    size = -1
  elseif not finite(size) or size < 0 or size > 1e6 then
    return nil, "size must be a number of attendees from 0 to 1000000"
  else
    size = floor(size)
  end
  return e.t, e.event, e.frontend, m, size
end


local function tags_of(b)
  local t = type(b.settings) == "table" and b.settings.tags or b.tags
  local out = {}
  if type(t) == "table" then
    for _, tag in ipairs(t) do
      if type(tag) == "string" and not tag:find("[,%c]") then
        out[#out + 1] = tag
      end
    end
  end
  return table.concat(out, ",")
end

local function num(v, default)
  return finite(v) and v or default
end

-- A node of GET /api/v1/backends as a flat table for C (caps: 0 = none).
local function node(b, i)
  if type(b) ~= "table" then
    return nil, "nodes[" .. i .. "] must be an object"
  end
  local host = type(b.bbb) == "table" and b.bbb.host or b.host
  if type(host) ~= "string" or host == "" or #host > 1024 then
    return nil, "nodes[" .. i .. "]: bbb.host is required"
  end
  local id = type(b.id) == "string" and b.id ~= "" and #b.id < 40 and b.id
    or string.format("00000000-0000-4000-8000-%012d", i)
  return {
    id = id, host = host, tags = tags_of(b),
    admin_state = type(b.admin_state) == "string" and b.admin_state:sub(1, 15) or "ready",
    node_state = type(b.node_state) == "string" and b.node_state:sub(1, 15) or "available",
    load_factor = num(b.load_factor, 1),
    -- per-node caps (when the nodes JSON has them)
    max_meetings = num(b.max_meetings, 0), max_attendees = num(b.max_attendees, 0),
    -- the counters a policy test case sees
    meetings = num(b.meetings_count, num(b.meetings, 0)),
    participants = num(b.attendees_count, num(b.participants, 0)),
    pending = num(b.pending, 0), video = num(b.video_count, 0),
    voice = num(b.voice_count, 0), listeners = num(b.listener_count, 0),
  }
end

local function nodes_of(list, what)
  if type(list) ~= "table" or (next(list) ~= nil and #list == 0) then
    return nil, what .. " must be a JSON array of backends (GET /api/v1/backends)"
  end
  if #list > MAX_NODES then
    return nil, what .. ": more than " .. MAX_NODES .. " backends"
  end
  local out = {}
  for i, b in ipairs(list) do
    local n, err = node(b, i)
    if not n then
      return nil, what .. ": " .. err
    end
    out[i] = n
  end
  return out
end

-- The nodes file: the array GET /api/v1/backends answers.
function _M.nodes(text)
  local list, err = cjson.decode(text)
  if list == nil then
    return nil, "not JSON: " .. tostring(err)
  end
  return nodes_of(list, "the nodes file")
end


local frontends = {}
local settings_cache = {}

-- The frontends file (optional): GET /api/v1/frontends' array, for their settings.
function _M.frontends(text)
  local list, err = cjson.decode(text)
  if type(list) ~= "table" then
    return nil, "the frontends file is not a JSON array: " .. tostring(err)
  end
  for i, f in ipairs(list) do
    local key = type(f) == "table" and (type(f.bbb) == "table" and f.bbb.key or f.key)
    if type(key) ~= "string" then
      return nil, "the frontends file: [" .. i .. "] has no bbb.key"
    end
    frontends[key] = type(f.settings) == "table" and f.settings or {}
  end
  return true
end

-- The settings JSON a create of frontend key is placed with, under policy, and its
-- required tags joined with "," (what the C fallback reads).
function _M.settings(key, policy)
  local ck = key .. "\0" .. policy
  local s = settings_cache[ck]
  if not s then
    local t = {}
    for k, v in pairs(frontends[key] or {}) do
      t[k] = v
    end
    t.policy = policy
    local tags = {}
    if type(t.required_tags) == "table" then
      for _, tag in ipairs(t.required_tags) do
        tags[#tags + 1] = tostring(tag)
      end
    end
    s = { cjson.encode(t), table.concat(tags, ",") }
    settings_cache[ck] = s
  end
  return s[1], s[2]
end


-- Policy test cases (b3scalectl policy test): { policy = name, cases = [...] } or a bare
-- array. Each case: { name, request = { frontend = { key, settings }, params, meeting_id,
-- excluded = [ids or hosts] }, backends = [...], expect = host | null (declined) }.
function _M.cases(text, default_policy)
  local doc, err = cjson.decode(text)
  if type(doc) ~= "table" then
    return nil, "not JSON: " .. tostring(err)
  end
  local list = doc.cases or doc
  if type(list) ~= "table" or #list == 0 then
    return nil, "no cases: expected { \"cases\": [...] } or an array of cases"
  end
  local policy = type(doc.policy) == "string" and doc.policy or default_policy
  local out = {}
  for i, c in ipairs(list) do
    local where = "case " .. i
    if type(c) ~= "table" then
      return nil, where .. " must be an object"
    end
    local req = type(c.request) == "table" and c.request or {}
    local fe = type(req.frontend) == "table" and req.frontend or {}
    local settings = type(fe.settings) == "table" and fe.settings or {}
    local s = {}
    for k, v in pairs(settings) do
      s[k] = v
    end
    s.policy = type(c.policy) == "string" and c.policy or s.policy or policy
    if type(s.policy) ~= "string" then
      return nil, where .. ": no policy (give \"policy\" in the file or --policy)"
    end
    local backends, berr = nodes_of(c.backends or {}, where .. ": backends")
    if not backends then
      return nil, berr
    end
    local params = {}
    if type(req.params) == "table" then
      for k, v in pairs(req.params) do
        if type(k) == "string" and (type(v) == "string" or type(v) == "number") then
          params[#params + 1] = { k, tostring(v) }
        end
      end
      table.sort(params, function(a, b) return a[1] < b[1] end)
    end
    local excluded = {}
    for _, x in ipairs(type(req.excluded) == "table" and req.excluded or {}) do
      for _, b in ipairs(backends) do
        if x == b.id or x == b.host then
          excluded[#excluded + 1] = b.id
        end
      end
    end
    local mid = req.meeting_id or (type(req.params) == "table" and req.params.meetingID)
    out[i] = {
      name = type(c.name) == "string" and c.name or where,
      policy = s.policy, settings = cjson.encode(s), backends = backends,
      key = type(fe.key) == "string" and fe.key or "test",
      meeting_id = (type(mid) == "string" or type(mid) == "number") and tostring(mid)
        or "test-meeting",
      params = params, excluded = excluded,
      attempt = finite(req.attempt) and req.attempt >= 1 and floor(req.attempt) or 1,
    }
  end
  return out
end

return _M
