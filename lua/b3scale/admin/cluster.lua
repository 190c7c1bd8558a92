-- b3scale.admin.cluster: GET /api/v1/cluster (admin only), one compact snapshot for the live
-- status page (docs/status.html): backends with their counters and load, frontends with
-- their meeting and attendee counts, the policy engine's generation and counters, and the
-- newest placements with their reasons.
-- Never a secret: backend and frontend secrets are not even selected.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")

local ipairs, type, tonumber, tostring, time = ipairs, type, tonumber, tostring, os.time

-- load as the scheduler computes it (host.load, the C formula; pending from the
-- backend_pending view), so the page shows what placement sees
local BACKENDS = "SELECT b.id::text AS id, b.host, b.admin_state, b.node_state, b.last_error,"
  .. " b.meetings_count, b.attendees_count, b.video_count, b.voice_count, b.listener_count,"
  .. " b.latency_ms, b.load_factor::text AS load_factor, p.pending,"
  .. " array_to_json(b.tags)::text AS tags"
  .. " FROM backends b JOIN backend_pending p ON p.backend_id = b.id ORDER BY b.host"


local FRONTENDS = "SELECT f.key, f.active, count(m.id)::text AS meetings,"
  .. " coalesce(sum(m.participants), 0)::text AS attendees"
  .. " FROM frontends f LEFT JOIN meetings m ON m.frontend_id = f.id"
  .. " GROUP BY f.id, f.key, f.active ORDER BY f.key"

local ERROR_KINDS = { "runtime", "budget", "badret", "nomem" }

-- the newest imports of every instance, failures with the reason the uploader got
local IMPORTS = "SELECT " .. db.ts("i.at", "at") .. ", b.host, i.status::text AS status,"
  .. " i.trees::text AS trees, i.bytes::text AS bytes, i.record_ids, i.message"
  .. " FROM recording_imports i LEFT JOIN backends b ON b.id = i.backend_id"
  .. " ORDER BY i.id DESC LIMIT 10"


-- the newest placements with why the policy chose their node (sql/0024); breakouts and
-- adopted meetings have no reason and are left out
local PLACEMENTS = "SELECT " .. db.ts("m.created_at", "at") .. ", f.key AS frontend, m.meeting_id,"
  .. " b.host, m.placement_reason->>'by' AS by, m.placement_reason->>'policy' AS policy,"
  .. " m.placement_reason->>'reason' AS reason, m.placement_reason->>'error' AS error"
  .. " FROM meetings m JOIN frontends f ON f.id = m.frontend_id"
  .. " LEFT JOIN backends b ON b.id = m.backend_id"
  .. " WHERE m.placement_reason IS NOT NULL ORDER BY m.created_at DESC, m.id DESC LIMIT 10"


-- last_error is the poller's text (never a signed URL); scrub a checksum anyway, so a future
-- error message that quotes a URL cannot leak one onto a screen.
local function scrub(s)
  s = db.val(s)
  if type(s) ~= "string" then
    return json.null
  end
  return (s:gsub("([Cc][Hh][Ee][Cc][Kk][Ss][Uu][Mm]=)[^&%s\"']*", "%1[redacted]"))
end


local function num(v)
  return tonumber(db.val(v)) or 0
end


local circuit_of

local function backend(r)
  return {
    circuit = circuit_of(r.id).state,
    id = r.id, host = r.host, admin_state = r.admin_state, node_state = r.node_state,
    meetings = num(r.meetings_count), participants = num(r.attendees_count),
    video = num(r.video_count), voice = num(r.voice_count),
    listeners = num(r.listener_count),
    latency_ms = db.num(r.latency_ms) or json.null,
    last_error = scrub(r.last_error),
    load_factor = num(r.load_factor),
    load = db.host().load(num(r.load_factor), num(r.meetings_count), num(r.pending),
      num(r.attendees_count)),
    tags = json.raw(db.val(r.tags) or "[]"),
  }
end


local function frontend(r)
  return { key = r.key, active = db.bool(r.active), meetings = num(r.meetings),
    attendees = num(r.attendees) }
end


local function policy()
  local host = db.host()
  local st = host.status()
  local out = db.policy_status(st)
  out.policies = json.array()
  local default = db.val(st.default_policy) or json.null
  out.default = default
  local stats = type(host.policy_stats) == "function" and host.policy_stats() or {}
  for i, p in ipairs(stats) do
    local e = type(p.errors) == "table" and p.errors or {}
    local errs = {}
    for _, k in ipairs(ERROR_KINDS) do
      errs[k] = tonumber(e[k]) or 0
    end
    out.policies[i] = { policy = tostring(p.policy), calls = tonumber(p.calls) or 0,
      nones = tonumber(p.nones) or 0, fallbacks = tonumber(p.fallbacks) or 0, errors = errs }
  end
  return out
end


local function import(r)
  return { at = r.at, node = db.val(r.host) or json.null, status = num(r.status),
    trees = num(r.trees), bytes = num(r.bytes), record_ids = db.val(r.record_ids) or "",
    message = scrub(r.message) }
end


local function placement(r)
  return { at = r.at, frontend = r.frontend, meeting_id = r.meeting_id,
    node = db.val(r.host) or json.null, by = db.val(r.by) or json.null,
    policy = db.val(r.policy) or json.null, reason = scrub(r.reason or r.error) }
end


function _M.show()
  circuit_of = db.circuits()
  local b, err = db.map(backend, BACKENDS)
  if not b then
    return err
  end
  local f
  f, err = db.map(frontend, FRONTENDS)
  if not f then
    return err
  end
  local imports
  imports, err = db.map(import, IMPORTS)
  if not imports then
    return err
  end
  local placements
  placements, err = db.map(placement, PLACEMENTS)
  if not placements then
    return err
  end
  local pending
  pending, err = db.query("SELECT count(*)::text AS n FROM recordings WHERE pending")
  if not pending then
    return err
  end
  return errors.ok({
    generated_at = db.rfc3339(time()),
    backends = b,
    frontends = f,
    policy = policy(),
    placements = placements,
    recordings = { imports = imports, pending = num(pending[1].n) },
  })
end


return _M
