-- A TCP proxy for fault specs that can black-hole a connection's traffic at run time, the way
-- a dead switch or a partition does (the peer neither answers nor closes).
--
--   local tcpproxy = require("support.tcpproxy")
--   local p = tcpproxy.start("127.0.0.1", pg_port)   -- p.port: connect here instead
--   p:blackhole()   -- open connections stay open, no byte passes either way, new
--                   -- connections are accepted and held without an answer
--   p:forward()     -- pass bytes again (connections that lost bytes are closed: their
--                   -- streams are broken, as after TCP gave up)
--   p:reset()       -- close every connection at once (RST)
--   p:stop()
--
-- It runs as its own process (luajit spec/support/tcpproxy.lua --serve LISTEN HOST PORT
-- CONTROL), so it keeps forwarding while the spec blocks on a request; the spec talks to it
-- over a control port, one command line per connection, answered "ok <mode> <connections>".
local socket = require("socket")

local _M = {}

--------------------------------------------------------------------------------------------
-- the proxy process

local function close_quietly(s)
  if s then
    pcall(s.close, s)
  end
end


local function serve(listen_port, host, port, ctl_port)
  local lsock = assert(socket.bind("127.0.0.1", listen_port))
  local csock = assert(socket.bind("127.0.0.1", ctl_port))
  lsock:settimeout(0)
  csock:settimeout(0)
  local mode = "forward"
  local conns = {} -- socket -> { pair=, peer_of = function } ; pair = { client=, upstream=, out={}, lost= }
  local npairs = 0

  local function drop(pair, rst)
    for _, s in ipairs({ pair.client, pair.upstream }) do
      if s then
        conns[s] = nil
        if rst then
          pcall(s.setoption, s, "linger", { on = true, timeout = 0 })
        end
        close_quietly(s)
      end
    end
    if not pair.dropped then
      pair.dropped = true
      npairs = npairs - 1
    end
  end

  local function all_pairs()
    local seen, list = {}, {}
    for _, pair in pairs(conns) do
      if not seen[pair] then
        seen[pair] = true
        list[#list + 1] = pair
      end
    end
    return list
  end

  local function set_mode(m)
    if m == "blackhole" and mode == "forward" then
      -- bytes not yet passed on fall into the hole
      for _, pair in ipairs(all_pairs()) do
        for s, buf in pairs(pair.out) do
          if buf ~= "" then
            pair.lost = true
          end
          pair.out[s] = ""
        end
      end
    elseif m == "forward" and mode == "blackhole" then
      for _, pair in ipairs(all_pairs()) do
        if pair.lost or not pair.upstream then
          drop(pair, true)
        end
      end
    end
    mode = m
  end

  local function accept_client(c)
    c:settimeout(0)
    local pair = { client = c, out = {} }
    npairs = npairs + 1
    conns[c] = pair
    if mode == "forward" then
      local u = socket.tcp()
      u:settimeout(1)
      if not u:connect(host, port) then
        close_quietly(u)
        drop(pair)
        return
      end
      u:settimeout(0)
      pair.upstream = u
      conns[u] = pair
    end
    pair.out[c] = ""
    if pair.upstream then
      pair.out[pair.upstream] = ""
    end
  end

  local function control(c)
    c:settimeout(1)
    local line = c:receive("*l")
    if line == "forward" or line == "blackhole" then
      set_mode(line)
    elseif line == "reset" then
      for _, pair in ipairs(all_pairs()) do
        drop(pair, true)
      end
    elseif line == "quit" then
      c:send("ok quit 0\n")
      c:close()
      os.exit(0)
    elseif line ~= "status" then
      c:send("error unknown command\n")
      c:close()
      return
    end
    c:send(string.format("ok %s %d\n", mode, npairs))
    c:close()
  end

  local function on_readable(s)
    local pair = conns[s]
    if not pair then
      return
    end
    local data, err, partial = s:receive(65536)
    data = data or partial or ""
    local other = (s == pair.client) and pair.upstream or pair.client
    if mode == "forward" then
      if data ~= "" and other then
        pair.out[other] = (pair.out[other] or "") .. data
      end
      if err == "closed" then
        -- pass on what is left, then close both sides
        if other and pair.out[other] ~= "" then
          other:settimeout(0.5)
          other:send(pair.out[other])
        end
        drop(pair)
      end
    else
      if data ~= "" then
        pair.lost = true
      end
      if err == "closed" then
        if s == pair.client then
          drop(pair)
        else
          -- the server went away: the client keeps waiting (nothing passes the hole)
          conns[s] = nil
          close_quietly(s)
          pair.upstream = nil
          pair.out[s] = nil
        end
      end
    end
  end

  while true do
    local recv = { lsock, csock }
    local send = {}
    for s, pair in pairs(conns) do
      recv[#recv + 1] = s
      if mode == "forward" and pair.out[s] and pair.out[s] ~= "" then
        send[#send + 1] = s
      end
    end
    local readable, writable = socket.select(recv, send, 0.2)
    for _, s in ipairs(writable or {}) do
      local pair = conns[s]
      if pair and pair.out[s] ~= "" then
        local i, err, last = s:send(pair.out[s])
        local n = i or last or 0
        pair.out[s] = pair.out[s]:sub(n + 1)
        if err == "closed" then
          drop(pair)
        end
      end
    end
    for _, s in ipairs(readable or {}) do
      if s == lsock then
        local c = lsock:accept()
        if c then
          accept_client(c)
        end
      elseif s == csock then
        local c = csock:accept()
        if c then
          control(c)
        end
      else
        on_readable(s)
      end
    end
  end
end

--------------------------------------------------------------------------------------------
-- the spec side

local P = {}
P.__index = P


-- Sends one control command; returns the answer line ("ok <mode> <n>") or nil, error.
function P:cmd(c)
  local s = socket.tcp()
  s:settimeout(2)
  local ok, err = s:connect("127.0.0.1", self.ctl_port)
  if not ok then
    s:close()
    return nil, err
  end
  s:send(c .. "\n")
  local line, rerr = s:receive("*l")
  s:close()
  return line, rerr
end


local function must(self, c)
  local line, err = self:cmd(c)
  assert(line and line:match("^ok "), "tcpproxy " .. c .. ": " .. tostring(line or err))
  return line
end


function P:blackhole() return must(self, "blackhole") end
function P:forward() return must(self, "forward") end
function P:reset() return must(self, "reset") end


-- number of connections the proxy holds now
function P:connections()
  return tonumber(must(self, "status"):match("^ok %S+ (%d+)"))
end


function P:stop()
  local h = require("helpers")
  h.stop(self.handle)
end


-- Starts a proxy from a free port on 127.0.0.1 to host:port (spawned with the spec helpers,
-- so run.sh kills it if a spec dies). Returns the proxy object once it answers.
function _M.start(host, port)
  local h = require("helpers")
  local self = setmetatable({ port = h.free_port(), ctl_port = h.free_port() }, P)
  self.handle = h.spawn({ "luajit", h.ROOT .. "/spec/support/tcpproxy.lua", "--serve",
    self.port, host, port, self.ctl_port })
  local ok = h.wait_until(function() return self:cmd("status") end, 10, 0.05)
  assert(ok, "tcpproxy did not start (log: " .. self.handle.log .. ")")
  return self
end


if select(1, ...) == "--serve" then
  local _, lp, host, port, cp = ...
  serve(tonumber(lp), host, tonumber(port), tonumber(cp))
end

return _M
