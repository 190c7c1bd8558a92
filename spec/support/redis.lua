-- spec/support/redis.lua: a private redis-server for a spec file, and a tiny RESP client
-- (PUBLISH, pipelined) so specs replay BBB traffic without redis-cli.
local h = require("helpers")
local socket = require("socket")

local _M = {}


local function resp(args)
  local t = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do
    t[#t + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(t)
end


-- Starts redis-server on r.port (a free one when nil); r.password adds requirepass.
function _M.start(r)
  r = r or {}
  r.port = r.port or h.free_port()
  local argv = { "redis-server", "--port", tostring(r.port), "--bind", "127.0.0.1",
    "--save", "", "--appendonly", "no", "--daemonize", "no" }
  if r.password then
    argv[#argv + 1] = "--requirepass"
    argv[#argv + 1] = r.password
  end
  r.handle = h.spawn(argv)
  assert(h.wait_until(function()
    local c = socket.connect("127.0.0.1", r.port)
    if c then c:close() return true end
  end, 10), "redis-server did not start")
  return r
end


function _M.stop(r)
  if r and r.handle then
    h.stop(r.handle)
  end
end


-- Sends commands pipelined (1000 at a time); returns the integer replies.
function _M.cmds(r, cmds)
  local c = assert(socket.connect("127.0.0.1", r.port))
  c:settimeout(10)
  local replies = {}
  if r.password then
    assert(c:send(resp({ "AUTH", r.password })))
    assert(c:receive("*l"):sub(1, 1) == "+", "redis refused AUTH")
  end
  for i = 1, #cmds, 1000 do
    local last = math.min(i + 999, #cmds)
    local parts = {}
    for j = i, last do
      parts[#parts + 1] = resp(cmds[j])
    end
    assert(c:send(table.concat(parts)))
    for _ = i, last do
      local l = assert(c:receive("*l"))
      assert(l:sub(1, 1) == ":", "redis said: " .. l)
      replies[#replies + 1] = tonumber(l:sub(2))
    end
  end
  c:close()
  return replies
end


-- PUBLISHes { channel =, payload = } messages in order.
function _M.publish(r, msgs)
  local cmds = {}
  for i, m in ipairs(msgs) do
    cmds[i] = { "PUBLISH", m.channel, m.payload }
  end
  return _M.cmds(r, cmds)
end


-- The messages of a `redis-cli psubscribe` recording: { channel =, payload = } in order.
function _M.read_dump(path)
  local lines = {}
  for l in (assert(h.read_file(path), "cannot read " .. path) .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = l
  end
  local out = {}
  for i = 1, #lines - 3 do
    if lines[i] == "pmessage" then
      out[#out + 1] = { channel = lines[i + 2], payload = lines[i + 3] }
    end
  end
  return out
end


_M.DUMP = h.ROOT .. "/spec/fixtures/bbb/bbb_msg_dump.rds"


return _M
