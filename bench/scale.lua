-- bench/scale.lua: the parts of make bench-scale that shell does badly (bench/scale.sh):
--
--   luajit bench/scale.lua creates SIMPORT NODES MEETINGS SECRET DIR
--     writes DIR/creates.curl (MEETINGS creates signed for the simulated nodes, 1,000 of
--     them "big~b-<j>" on the first 200 nodes with 3 attendees each, the rest "scale~m-<j>"
--     spread over all nodes) and DIR/attendees.curl, both curl -K configs
--   luajit bench/scale.lua agents PORT JWTSECRET SECONDS LIST
--     an agent-like report stream for SECONDS: every agent in LIST (lines "<ref> <internal
--     meeting id>") posts a heartbeat and one events batch (a user joins, another leaves)
--     each second, as b3scaleagent would; prints how many reports went and failed
package.path = "./lua/?.lua;./spec/?.lua;" .. package.path
local h = require("helpers")
local socket = require("socket")

local cmd = arg[1]

local function creates(sim_port, nodes, meetings, secret, dir)
  local c, a = {}, {}
  local big = math.min(1000, meetings)
  for j = 0, meetings - 1 do
    local id, node
    if j < big then
      id, node = "big~b-" .. j, j % math.min(200, nodes)
    else
      id, node = "scale~m-" .. j, j % nodes
    end
    local base = string.format("http://127.0.0.1:%d/n/%d", sim_port, node)
    local q = "name=Room+" .. j .. "&meetingID=" .. h.urlencode(id) .. "&meta_bench=scale"
    c[#c + 1] = string.format('url = "%s/bigbluebutton/api/create?%s"\noutput = "/dev/null"',
      base, h.sign("create", q, secret, "sha1"))
    if j < big then
      a[#a + 1] = string.format('url = "%s/sim/attendees?meetingID=%s&count=3"\noutput = "/dev/null"',
        base, h.urlencode(id))
    end
  end
  h.write_file(dir .. "/creates.curl", table.concat(c, "\n") .. "\n")
  h.write_file(dir .. "/attendees.curl", table.concat(a, "\n") .. "\n")
end

local function agents(port, jwt_secret, seconds, list)
  local jwt = require("b3scalectl.jwt")
  local ag = {}
  for line in io.lines(list) do
    local ref, int = line:match("^(%S+)%s+(%S+)$")
    if ref then
      ag[#ag + 1] = { int = int, auth = "Bearer " .. jwt.mint(jwt_secret, ref, { "b3scale:node" }, 3600) }
    end
  end
  local base = "http://127.0.0.1:" .. port .. "/api/v1/agent/"
  local function ev(name, int, user)
    return h.cjson.encode({ envelope = { name = name }, core = { header = { meetingId = int, userId = user },
      body = { intId = user, name = "Bench " .. user, role = "VIEWER" } } })
  end
  local sent, failed, tick = 0, 0, 0
  local stop = socket.gettime() + seconds
  while socket.gettime() < stop do
    local t0 = socket.gettime()
    tick = tick + 1
    for _, a in ipairs(ag) do
      local hdr = { authorization = a.auth, ["content-type"] = "application/json" }
      local st = h.http("POST", base .. "heartbeat", "{}", hdr)
      sent, failed = sent + 1, failed + (st == 200 and 0 or 1)
      hdr["content-type"] = "application/x-ndjson"
      local body = ev("UserJoinedMeetingEvtMsg", a.int, "w_b" .. tick) .. "\n"
        .. ev("UserLeftMeetingEvtMsg", a.int, "w_b" .. (tick - 1)) .. "\n"
      st = h.http("POST", base .. "events", body, hdr)
      sent, failed = sent + 1, failed + (st == 200 and 0 or 1)
    end
    local rest = 1 - (socket.gettime() - t0)
    if rest > 0 then socket.sleep(rest) end
  end
  print(string.format("%d agents: %d reports, %d failed", #ag, sent, failed))
end

if cmd == "creates" then
  creates(tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]), arg[5], arg[6])
elseif cmd == "agents" then
  agents(tonumber(arg[2]), arg[3], tonumber(arg[4]), arg[5])
else
  io.stderr:write("usage: luajit bench/scale.lua creates|agents ...\n")
  os.exit(2)
end
