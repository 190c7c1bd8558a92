-- b3scale.host: the host functions a policy may call (clock, randomness, hashing, logging).
-- This file is the pure-Lua version used by busted. In the daemon the C core assigns its own
-- functions to `now`, `random` and `log` (so keep this a plain table of functions, and call
-- them through the table, never through a cached local); `hash32` always stays this one.
local _M = {}

local floor, random, randomseed = math.floor, math.random, math.randomseed
local type, tostring, error = type, tostring, error
local byte = string.byte
local bxor, lshift = bit.bxor, bit.lshift
local clock = os and os.time               -- absent in the daemon's state, which sets now()

local TWO32 = 4294967296
local FNV_OFFSET = 2166136261
-- 16777619 = 2^24 + 403: multiply in two parts so every intermediate stays exact in a double
local FNV_LOW = 403


-- Epoch seconds (the daemon's version returns fractions; os.time is whole seconds).
function _M.now()
  if not clock then
    error("host.now: no clock in this Lua state", 2)
  end
  return clock()
end


-- An integer in [m, n], like math.random(m, n).
function _M.random(m, n)
  if type(m) ~= "number" or type(n) ~= "number" or m ~= floor(m) or n ~= floor(n) or m > n then
    error("random: expected integers m <= n", 2)
  end
  return random(m, n)
end


-- Makes random() repeatable (specs only; the daemon seeds each state itself).
function _M.seed(n)
  randomseed(n)
end


-- FNV-1a, 32 bits, over the bytes of `s`; a non-negative integer below 2^32.
function _M.hash32(s)
  s = tostring(s)
  local h = FNV_OFFSET
  for i = 1, #s do
    h = bxor(h, byte(s, i)) % TWO32
    -- h * 2^24 is taken mod 2^32 by the shift; h * 403 < 2^41 is exact
    h = (lshift(h, 24) + h * FNV_LOW) % TWO32
  end
  return h
end


-- log(level, msg): the daemon sends it to its logger as `policy:<name>`; here it is a no-op.
function _M.log(level, msg) -- luacheck: ignore
end


return _M
