-- The plumbing of the small HTTP/1.1 servers specs run as luajit processes of their own
-- (spec/support/receiver.lua, agent/tests/fake_b3scaled.lua): reading a request, serving every
-- connection from one select loop (keep-alive; a connection a handler parks stays open,
-- unanswered), and waiting for such a server to listen. The server half needs only luasocket.
local socket = require("socket")

local _M = {}


-- method, target and headers (lower-case names) of the next request on c; nil when c is done
function _M.head(c)
  c:settimeout(5)
  local line = c:receive("*l")
  if not line or line == "" then return nil end
  local method, target = line:match("^(%S+)%s+(%S+)")
  local hdr = {}
  while true do
    local l = c:receive("*l")
    if not l then return nil end
    if l == "" then break end
    local k, v = l:match("^([^:]+):%s*(.-)%s*$")
    if k then hdr[k:lower()] = v end
  end
  return method, target, hdr
end


-- The request's Content-Length body ("" without one), or nil when the client went away.
function _M.body(c, hdr)
  local n = tonumber(hdr["content-length"] or "0") or 0
  if n == 0 then return "" end
  return c:receive(n)
end


-- Serves 127.0.0.1:port for ever: serve(c) answers one request on c and returns true to keep
-- the connection, "park" to keep it open unanswered, anything else to close it.
function _M.loop(port, serve)
  local server = assert(socket.bind("127.0.0.1", port))
  server:settimeout(0)
  local clients, parked = {}, {}
  while true do
    local watch = { server }
    for _, c in ipairs(clients) do watch[#watch + 1] = c end
    local readable = socket.select(watch, nil, 1)
    for _, s in ipairs(readable) do
      if s == server then
        local c = server:accept()
        if c then clients[#clients + 1] = c end
      else
        local more = serve(s)
        if more ~= true then
          if more == "park" then parked[#parked + 1] = s else s:close() end
          for i, c in ipairs(clients) do
            if c == s then table.remove(clients, i) break end
          end
        end
      end
    end
  end
end


-- Waits until the server process `handle` (from helpers.spawn) listens on 127.0.0.1:port;
-- fails naming `what` when it does not within 10 s or exits.
function _M.wait_listening(port, handle, what)
  local h = require("helpers")
  assert(h.wait_until(function()
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() return true end
    assert(h.alive(handle), what .. " exited: " .. (h.read_file(handle.log) or ""))
  end, 10), what .. " did not start")
end


return _M
