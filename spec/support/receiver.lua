-- A callback receiver for the delivery specs: a real HTTP/1.1 server (keep-alive,
-- Content-Length bodies) in its own luajit process that records every request and answers
-- each path by a script.
--
-- As a module (require "support.receiver"):
--   local r = receiver.start({ plan = { ["/a"] = { "500", "500", "200" } }, port = n })
--   r.url .. "/a?x=1"; receiver.requests(r, "/a") -> { {method, path, query, headers, body}, ... }
--   receiver.stop(r)
-- Run directly (what start does): RECEIVER_PORT, RECEIVER_LOG (JSON lines) and RECEIVER_PLAN
-- (JSON: path -> list of actions; the last repeats; default "200"). Actions: an HTTP status
-- ("302" also sends Location: /redirected), "hang" (reads the request, never answers), "huge"
-- (200 declaring a 64 MiB body, sent until the client stops reading; the log line's `sent`
-- says how much went out).
local script = select("#", ...) == 0
if script then -- httpd.lua is its neighbour
  package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
end
local socket = require("socket")
local cjson = require("cjson")
local httpd = require(script and "httpd" or "support.httpd")

local HUGE = 64 * 1024 * 1024

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(s)
  return (s:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end


local function serve_forever()
  local port = assert(tonumber(os.getenv("RECEIVER_PORT")), "RECEIVER_PORT")
  local out = assert(io.open(assert(os.getenv("RECEIVER_LOG"), "RECEIVER_LOG"), "a"))
  local plan = cjson.decode(os.getenv("RECEIVER_PLAN") or "{}")
  local seen = {}

  local function action_for(path)
    local list = plan[path] or { "200" }
    seen[path] = (seen[path] or 0) + 1
    return tostring(list[math.min(seen[path], #list)])
  end

  -- one request from c: true to keep the connection, "park" to keep it unanswered
  local function serve(c)
    local method, target, hdr = httpd.head(c)
    local body = method and httpd.body(c, hdr)
    if not body then return false end
    local path, query = target:match("^([^?]*)%??(.*)$")
    local action = action_for(path)
    local rec = { t = socket.gettime(), method = method, path = path, query = query,
      headers = hdr, body = hex(body), action = action }
    local result = true
    if action == "hang" then
      result = "park"
    elseif action == "huge" then
      c:send(string.format("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        .. "Content-Length: %d\r\n\r\n", HUGE))
      local chunk, sent = string.rep("x", 65536), 0
      while sent < HUGE do
        local last = c:send(chunk)
        if not last then break end
        sent = sent + #chunk
      end
      rec.sent = sent
      result = false
    else
      local st = tonumber(action) or 500
      local extra = st == 302 and "Location: /redirected\r\n" or ""
      local rb = "answer " .. st
      c:send(string.format("HTTP/1.1 %d Receiver\r\n%sContent-Type: text/plain\r\n"
        .. "Content-Length: %d\r\n\r\n%s", st, extra, #rb, rb))
    end
    out:write(cjson.encode(rec), "\n")
    out:flush()
    return result
  end

  httpd.loop(port, serve)
end


if script then
  return serve_forever()
end


local h = require("helpers")
local _M = {}

-- opts.plan (path -> actions), opts.port (default: a free one). Returns the receiver:
-- { port =, url = "http://127.0.0.1:<port>" (paths go after it), handle =, log = }
function _M.start(opts)
  opts = opts or {}
  local r = { port = opts.port or h.free_port() }
  r.url = "http://127.0.0.1:" .. r.port
  r.log = string.format("%s/receiver-%d-%s.jsonl", h.tmpdir(), r.port, h.random_hex(3))
  r.handle = h.spawn({ "luajit", h.ROOT .. "/spec/support/receiver.lua" }, {
    RECEIVER_PORT = tostring(r.port), RECEIVER_LOG = r.log,
    RECEIVER_PLAN = cjson.encode(opts.plan or {}),
  }, r.log .. ".out")
  httpd.wait_listening(r.port, r.handle, "the receiver")
  return r
end

-- Every request r got so far (to path, when given), oldest first: { method, path, query,
-- headers (lower-case names), body, action, sent }.
function _M.requests(r, path)
  local list = {}
  for line in (h.read_file(r.log) or ""):gmatch("[^\n]+") do
    local rec = cjson.decode(line)
    if not path or rec.path == path then
      rec.body = unhex(rec.body)
      list[#list + 1] = rec
    end
  end
  return list
end

function _M.stop(r)
  h.stop(r.handle)
end

return _M
