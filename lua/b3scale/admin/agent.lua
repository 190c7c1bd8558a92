-- b3scale.admin.agent: /api/v1/agent/* for b3scaleagent (scope b3scale:node). The agent sends
-- a heartbeat every second, its node's full getMeetings answer after (re)connecting, and
-- BBB's own Redis messages (NDJSON) as they happen; they are parsed here with cjson.
local _M = {}

local cjson = require("cjson.safe")
local errors = require("b3scale.admin.errors")
local db = require("b3scale.admin.db")

local type, tonumber, tostring, unpack = type, tonumber, tostring, unpack

local MAX_LINE = 65536


-- The backend this agent reports for (agent_ref = the token's sub), or nil and a 404.
local function own_backend(ctx)
  if ctx.admin and not ctx.sub then
    return nil, errors.not_found("backend")
  end
  local rows, err = db.query("SELECT id::text AS id, host, node_state, admin_state,"
    .. " load_factor::text AS load_factor FROM backends WHERE agent_ref = $1", ctx.sub)
  if not rows then
    return nil, err
  end
  if #rows ~= 1 then
    return nil, errors.not_found("backend for agent " .. tostring(ctx.sub))
  end
  return rows[1]
end


function _M.backend(ctx)
  local b, err = own_backend(ctx)
  if not b then
    return err
  end
  return errors.ok({ id = b.id, bbb = { host = b.host }, node_state = b.node_state,
    admin_state = b.admin_state, load_factor = tonumber(b.load_factor) })
end


local function fraction(v)
  if type(v) == "number" and v == v and v >= 0 and v <= 1 then
    return v
  end
  return nil
end


function _M.heartbeat(ctx)
  local b, err = own_backend(ctx)
  if not b then
    return err
  end
  local body = ctx.req.body
  local load = (body and body ~= "") and cjson.decode(body) or {}
  if type(load) ~= "table" then
    local f = errors.fields()
    f:add("body", "invalid JSON")
    return f:response()
  end
  local rows
  rows, err = db.query("UPDATE backends SET agent_heartbeat = now(), agent_cpu = $2::real,"
    .. " agent_mem = $3::real WHERE id = $1::uuid RETURNING " .. db.ts("agent_heartbeat", "heartbeat"),
    b.id, fraction(load.cpu) or db.null(), fraction(load.mem) or db.null())
  if not rows then
    return err
  end
  return errors.ok({ backend_id = b.id, heartbeat = rows[1].heartbeat })
end


function _M.state(ctx)
  local b, err = own_backend(ctx)
  if not b then
    return err
  end
  local body = ctx.req.body
  if type(body) ~= "string" or body == "" then
    local f = errors.fields()
    f:add("body", "the node's getMeetings answer (XML) is required")
    return f:response()
  end
  local ok, perr = db.host().node_state(b.id, b.host, b.node_state, body)
  if not ok then
    local f = errors.fields()
    f:add("body", tostring(perr))
    return f:response()
  end
  return errors.ok({ backend_id = b.id, applied = true })
end


-- One BBB message -> one parameterised statement on node_meetings (or nothing).
local function statement(msg)
  local env = type(msg.envelope) == "table" and msg.envelope or {}
  local core = type(msg.core) == "table" and msg.core or {}
  local header = type(core.header) == "table" and core.header or {}
  local body = type(core.body) == "table" and core.body or {}
  local name = env.name
  local mid = header.meetingId or body.meetingId
  if name == "MeetingCreatedEvtMsg" then
    local props = type(body.props) == "table" and body.props or {}
    local mp = type(props.meetingProp) == "table" and props.meetingProp or {}
    if type(mp.intId) ~= "string" or type(mp.extId) ~= "string" then
      return nil
    end
    -- a breakout room reaches its frontend through its parent (BBB names it itself)
    local bp = type(props.breakoutProps) == "table" and props.breakoutProps or {}
    local parent = (mp.isBreakout == true and type(bp.parentId) == "string") and bp.parentId or db.null()
    -- a create answer not stored yet still finds its row: the meeting ID is ours
    return "WITH n AS (INSERT INTO node_meetings (backend_id, internal_id, meeting_id, name,"
      .. " running, is_breakout, parent_id) VALUES ($1::uuid, $2, $3, $4, false, $5::boolean, $6)"
      .. " ON CONFLICT (backend_id, internal_id) DO UPDATE SET meeting_id = EXCLUDED.meeting_id,"
      .. " name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, updated_at = now() RETURNING 1)"
      .. " UPDATE meetings SET internal_id = coalesce(internal_id, $2)"
      .. " WHERE backend_id = $1::uuid AND backend_meeting_id = $3",
      { mp.intId, mp.extId, type(mp.name) == "string" and mp.name or "", mp.isBreakout == true, parent }
  end
  if type(mid) ~= "string" then
    return nil
  end
  local user = body.intId or body.userId or header.userId
  if name == "MeetingEndedEvtMsg" or name == "MeetingDestroyedEvtMsg" then
    return "DELETE FROM node_meetings WHERE backend_id = $1::uuid AND internal_id = $2", { mid }
  end
  if type(user) ~= "string" then
    return nil
  end
  local upd = "UPDATE node_meetings SET updated_at = now(), "
  local where = " WHERE backend_id = $1::uuid AND internal_id = $2"
  if name == "UserJoinedMeetingEvtMsg" then
    return upd .. "running = true, attendees = attendees || jsonb_build_object($3::text,"
      .. " jsonb_build_object('role', $4::text, 'name', $5::text, 'voice', false, 'listen', false,"
      .. " 'video', 0))" .. where, { mid, user, type(body.role) == "string" and body.role or "VIEWER",
      type(body.name) == "string" and body.name or "" }
  elseif name == "UserLeftMeetingEvtMsg" then
    return upd .. "attendees = attendees - $3::text" .. where, { mid, user }
  elseif name == "UserJoinedVoiceConfToClientEvtMsg" or name == "UserLeftVoiceConfToClientEvtMsg" then
    local joined = name == "UserJoinedVoiceConfToClientEvtMsg"
    local listen = joined and body.listenOnly == true
    return upd .. "attendees = jsonb_set(attendees, ARRAY[$3::text], (attendees -> $3::text)"
      .. " || jsonb_build_object('voice', $4::boolean, 'listen', $5::boolean))"
      .. where .. " AND attendees ? $3::text", { mid, user, joined and not listen, listen }
  elseif name == "UserBroadcastCamStartedEvtMsg" or name == "UserBroadcastCamStoppedEvtMsg" then
    local delta = name == "UserBroadcastCamStartedEvtMsg" and 1 or -1
    return upd .. "attendees = jsonb_set(attendees, ARRAY[$3::text, 'video'], to_jsonb(GREATEST(0,"
      .. " coalesce((attendees -> $3::text ->> 'video')::int, 0) + $4::int)))"
      .. where .. " AND attendees ? $3::text", { mid, user, delta }
  end
  return nil
end


-- POST /api/v1/agent/events: NDJSON of BBB messages, applied in order in one transaction.
function _M.events(ctx)
  local b, err = own_backend(ctx)
  if not b then
    return err
  end
  local body = ctx.req.body or ""
  local applied, ignored = 0, 0
  return db.tx(function()
    for line in body:gmatch("[^\n]+") do
      local msg = (#line <= MAX_LINE) and cjson.decode(line) or nil
      local sql, args
      if type(msg) == "table" then
        sql, args = statement(msg)
      end
      if sql then
        local rows, qerr = db.query(sql, b.id, unpack(args, 1, table.maxn(args)))
        if not rows then
          return qerr
        end
        applied = applied + 1
      else
        ignored = ignored + 1
      end
    end
    local rows, rerr = db.query("SELECT b3s_refresh_node($1::uuid)", b.id)
    if not rows then
      return rerr
    end
    return errors.ok({ backend_id = b.id, applied = applied, ignored = ignored })
  end)
end


-- For specs: which statement a message maps to, without a database.
_M.statement = statement


return _M
