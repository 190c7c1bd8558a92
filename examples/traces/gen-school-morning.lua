#!/usr/bin/env luajit
-- Writes school-morning.jsonl: a school's morning on one frontend ("school"). 400 classes
-- are created at 08:00 within one minute (t 0..60), each with 12 to 35 pupils who join over
-- the next 5 minutes; a few classes end at 08:45 and new ones start, everyone leaves and the
-- last classes end before 09:35. Deterministic (fixed seed): rerun to regenerate the file.
--   luajit examples/traces/gen-school-morning.lua > examples/traces/school-morning.jsonl
local seed = 20240901
local function rand(n) -- a small LCG: the same file on every LuaJIT
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local ev = {}
local function add(t, event, meeting, size)
  ev[#ev + 1] = { t = t, event = event, meeting = meeting, size = size }
end

local function class(id, start, len)
  local size = 12 + rand(24)
  add(start, "create", id, size)
  for p = 1, size do
    local j = start + 5 + rand(300)
    add(j, "join", id)
    add(start + len - rand(120), "leave", id)
  end
  add(start + len, "end", id)
end

for i = 1, 400 do
  class(string.format("class-%03d", i), rand(60), 2700)       -- 08:00 - 08:45
end
for i = 401, 520 do
  class(string.format("class-%03d", i), 2760 + rand(60), 2700) -- 08:46 - 09:31
end

for i, e in ipairs(ev) do
  e.seq = i
end
table.sort(ev, function(a, b)
  if a.t ~= b.t then return a.t < b.t end
  return a.seq < b.seq
end)
for _, e in ipairs(ev) do
  io.write(string.format('{"t": %d, "event": "%s", "frontend": "school", "meeting": "%s"%s}\n',
    e.t, e.event, e.meeting, e.size and (', "size": ' .. e.size) or ""))
end
