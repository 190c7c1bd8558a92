-- b3scale.admin.usage: GET /api/v1/usage, what each meeting instance used (sql/0022): per
-- instance rows, one page at a time (?limit, ?cursor), and per frontend totals over the whole
-- range. A meeting overlapping [from, to) is listed with its attendee-minutes clipped to the
-- range (exact at whole UTC hours, prorated inside one; a running meeting counts up to now).
-- The `b3scale` scope sees only frontends whose account_ref is its sub: another tenant's
-- frontend is "not found", as an unknown key is.
local _M = {}

local json = require("b3scale.admin.json")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")

local tonumber, tostring, type, ipairs = tonumber, tostring, type, ipairs
local format = string.format

_M.DEFAULT_LIMIT = 1000
_M.MAX_LIMIT = 10000

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }


local function leap(y)
  return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end


-- An ISO 8601 / RFC 3339 time as Postgres reads it the same in every session time zone:
-- "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDThh:mm[:ss[.fff]]" with "Z" or "+hh:mm" (a
-- space may stand for the T, as in a URL's "+" decoded). nil when it is not one.
function _M.parse_time(s)
  if type(s) ~= "string" or #s > 40 then
    return nil
  end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then
    return nil
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if y < 1 or mo < 1 or mo > 12 or d < 1
      or d > ((mo == 2 and leap(y)) and 29 or DAYS[mo]) then
    return nil
  end
  local hh, mi, ss, frac, zone = 0, 0, 0, "", "Z"
  if rest ~= "" then
    local t, z = rest:match("^[Tt ](%d%d:%d%d[%d:.]*)([Zz]?[+-]?[%d:]*)$")
    if not t then
      return nil
    end
    hh, mi = t:match("^(%d%d):(%d%d)")
    local tail = t:sub(6)
    if tail ~= "" then
      ss, frac = tail:match("^:(%d%d)(.*)$")
      if not ss or (frac ~= "" and not frac:find("^%.%d%d?%d?%d?%d?%d?$")) then
        return nil
      end
    end
    hh, mi, ss = tonumber(hh), tonumber(mi), tonumber(ss or 0)
    if hh > 23 or mi > 59 or ss > 59 then
      return nil
    end
    if z == "z" or z == "Z" then
      zone = "Z"
    else
      local sign, zh, zm = z:match("^([+-])(%d%d):?(%d%d)$")
      if not sign or tonumber(zh) > 14 or tonumber(zm) > 59 then
        return nil
      end
      zone = sign .. zh .. ":" .. zm
    end
  end
  return format("%04d-%02d-%02dT%02d:%02d:%02d%s%s", y, mo, d, hh, mi, ss, frac,
    zone == "Z" and "+00:00" or zone)
end


-- The row's clipped seconds: its hours inside the range (each prorated over the part of the
-- hour the instance ran, when the range cuts it) and, while it runs, the count it holds
-- since counted_at up to now. $1 from, $2 to.
local CLIPPED = "(coalesce((SELECT sum(hh.attendee_seconds"
  .. " * b3s_usage_overlap(greatest(hh.hour, u.started_at),"
  .. "   least(hh.hour + interval '1 hour', u.counted_at), $1::timestamptz, $2::timestamptz)"
  .. " / nullif(b3s_usage_overlap(greatest(hh.hour, u.started_at),"
  .. "   least(hh.hour + interval '1 hour', u.counted_at), '-infinity', 'infinity'), 0))"
  .. " FROM meeting_usage_hours hh WHERE hh.usage_id = u.id"
  .. "  AND hh.hour < $2::timestamptz AND hh.hour > $1::timestamptz - interval '1 hour'), 0)"
  .. " + CASE WHEN u.ended_at IS NULL"
  .. "  THEN u.attendees * b3s_usage_overlap(u.counted_at, now(), $1::timestamptz, $2::timestamptz)"
  .. "  ELSE 0 END)"

-- The instances of the frontends chosen ($3 key or NULL, $4 account_ref or NULL) that
-- overlap [$1, $2).
local FROM = " FROM meeting_usage u JOIN frontends f ON f.id = u.frontend_id"
  .. " WHERE ($3::text IS NULL OR f.key = $3) AND ($4::text IS NULL OR f.account_ref = $4)"
  .. " AND u.started_at < $2::timestamptz"
  .. " AND (u.ended_at IS NULL OR u.ended_at > $1::timestamptz)"

local ROWS = "SELECT u.id::text AS id, f.key AS frontend, u.meeting_id, u.internal_id,"
  .. " u.backend_host, " .. db.ts("u.started_at") .. ", " .. db.ts("u.ended_at") .. ","
  .. " u.peak_attendees::text AS peak_attendees, u.attendees::text AS attendees,"
  .. " round(" .. CLIPPED .. ")::text AS attendee_seconds,"
  .. " round(" .. CLIPPED .. " / 60, 2)::text AS attendee_minutes"
  .. FROM .. " AND u.id > $5::bigint ORDER BY u.id LIMIT $6::integer"

-- every chosen frontend, with zeros when it used nothing in the range
local TOTALS = "SELECT f.key AS frontend, count(x.id)::text AS meetings,"
  .. " coalesce(round(sum(x.secs)), 0)::text AS attendee_seconds,"
  .. " coalesce(round(sum(x.secs) / 60, 2), 0)::text AS attendee_minutes,"
  .. " coalesce(max(x.peak_attendees), 0)::text AS peak_attendees"
  .. " FROM frontends f LEFT JOIN (SELECT u.id, u.frontend_id, u.peak_attendees, "
  .. CLIPPED .. " AS secs" .. FROM .. ") x ON x.frontend_id = f.id"
  .. " WHERE ($3::text IS NULL OR f.key = $3) AND ($4::text IS NULL OR f.account_ref = $4)"
  .. " GROUP BY f.key ORDER BY f.key"

-- the range asked for (from: the start of this UTC month, to: now, when not given), as
-- shown (RFC 3339, whole seconds) and as the statements take it (exact)
local RANGE = "SELECT " .. db.TS:format("r.f") .. " AS \"from\", " .. db.TS:format("r.t")
  .. " AS \"to\", r.f::text AS f, r.t::text AS t, r.f < r.t AS ordered"
  .. " FROM (SELECT coalesce($1::timestamptz, date_trunc('month', now() AT TIME ZONE 'UTC')"
  .. " AT TIME ZONE 'UTC') AS f, coalesce($2::timestamptz, now()) AS t) r"


local function present(row)
  return {
    id = tonumber(row.id), frontend = row.frontend, meeting_id = row.meeting_id,
    internal_id = db.val(row.internal_id) or json.null,
    backend_host = db.val(row.backend_host) or json.null,
    started_at = row.started_at, ended_at = db.val(row.ended_at) or json.null,
    running = db.val(row.ended_at) == nil,
    attendees = db.val(row.ended_at) == nil and tonumber(row.attendees) or 0,
    peak_attendees = tonumber(row.peak_attendees),
    attendee_seconds = tonumber(row.attendee_seconds),
    attendee_minutes = tonumber(row.attendee_minutes),
  }
end


local function present_total(row)
  return {
    frontend = row.frontend, meetings = tonumber(row.meetings),
    attendee_seconds = tonumber(row.attendee_seconds),
    attendee_minutes = tonumber(row.attendee_minutes),
    peak_attendees = tonumber(row.peak_attendees),
  }
end


function _M.list(ctx)
  local q = ctx.query
  local f = errors.fields()
  local from, to = q.from, q.to
  if from ~= nil then
    from = _M.parse_time(from)
    if not from then
      f:add("from", "must be an ISO 8601 date or time (2026-11-01, 2026-11-01T00:00:00Z)")
    end
  end
  if to ~= nil then
    to = _M.parse_time(to)
    if not to then
      f:add("to", "must be an ISO 8601 date or time (2026-12-01, 2026-12-01T00:00:00Z)")
    end
  end
  local limit, problem = errors.query_int(q.limit, _M.DEFAULT_LIMIT, 1, _M.MAX_LIMIT)
  if not limit then
    f:add("limit", problem)
  end
  local cursor = q.cursor
  if cursor ~= nil and (type(cursor) ~= "string" or not cursor:find("^%d+$") or #cursor > 18) then
    f:add("cursor", "must be the next value of a previous page")
  end
  local key = q.frontend
  if key == "" then
    key = nil
  end
  if not f:empty() then
    return f:response()
  end
  local owner = (not ctx.admin) and ctx.sub or nil
  local range, err = db.first("range", RANGE, from or db.null(), to or db.null())
  if not range then
    return err
  end
  if not db.bool(range.ordered) then
    f:add("to", "must be after from")
    return f:response()
  end
  from, to = range.f, range.t
  if key then
    -- another tenant's frontend is answered as an unknown one
    local _, ferr = db.first("frontend", "SELECT 1 FROM frontends WHERE key = $1"
      .. " AND ($2::text IS NULL OR account_ref = $2)", key, owner or db.null())
    if ferr then
      return ferr
    end
  end
  local kv, ov = key or db.null(), owner or db.null()
  local rows
  rows, err = db.query(ROWS, from, to, kv, ov, cursor or "0", tostring(limit + 1))
  if not rows then
    return err
  end
  local totals
  totals, err = db.map(present_total, TOTALS, from, to, kv, ov)
  if not totals then
    return err
  end
  local meetings = json.array()
  for i, row in ipairs(rows) do
    if i > limit then
      break
    end
    meetings[i] = present(row)
  end
  local nxt = json.null
  if #rows > limit then
    nxt = tostring(meetings[limit].id)
  end
  return errors.ok({ from = range.from, to = range.to, frontends = totals, meetings = meetings, next = nxt })
end


return _M
