-- spec/support/logline.lua: reads one text-format log line as c/log.c writes it, strictly:
-- key=value pairs, bare values only of safe characters, quoted ones with \" \\ \n \r \t
-- \xNN escapes. Returns values by key and the keys in order, or nil and what is wrong.
local _M = {}

local ESC = { n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\" }
function _M.parse(line)
  local vals, keys, i = {}, {}, 1
  while i <= #line do
    local k, j = line:match("^([a-z0-9_]+)=()", i)
    if not k then return nil, "no key at byte " .. i end
    i = j
    local v
    if line:sub(i, i) == '"' then
      local b = {}
      i = i + 1
      while true do
        local c = line:sub(i, i)
        if c == "" then return nil, "unterminated quote" end
        if c == '"' then
          i = i + 1
          break
        elseif c == "\\" then
          local e = line:sub(i + 1, i + 1)
          if e == "x" then
            local byte = tonumber(line:sub(i + 2, i + 3), 16)
            if not byte then return nil, "bad \\x" end
            b[#b + 1] = string.char(byte)
            i = i + 4
          elseif ESC[e] then
            b[#b + 1] = ESC[e]
            i = i + 2
          else
            return nil, "unknown escape \\" .. e
          end
        else
          b[#b + 1] = c
          i = i + 1
        end
      end
      v = table.concat(b)
    else
      v, i = line:match("^([^ ]*)()", i)
      if v == "" then return nil, "empty bare value" end
      if v:find('["=\\]') then return nil, "unsafe bare value " .. v end
    end
    if vals[k] then return nil, "duplicate key " .. k end
    vals[k] = v
    keys[#keys + 1] = k
    if i <= #line then
      if line:sub(i, i) ~= " " then return nil, "junk after " .. k end
      i = i + 1
    end
  end
  return vals, keys
end

return _M
