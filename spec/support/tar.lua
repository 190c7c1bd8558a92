-- Builds ustar archives byte by byte, so the specs can send what no well-behaved tar writes:
-- "../" names, links, devices, sizes larger than the data, a body cut short.
local _M = {}

local function octal(n, width)
  local s = string.format("%o", n)
  assert(#s < width, "tar: number too large for its field")
  return string.rep("0", width - 1 - #s) .. s .. "\0"
end

local function field(s, width)
  assert(#s <= width, "tar: field too long: " .. s)
  return s .. string.rep("\0", width - #s)
end

-- One header block. e = { name, type ("0" file, "5" dir, "2" symlink, "1" hard link,
-- "3" char device), data, size (declared, default #data), link }.
local function header(e)
  local size = e.size or (e.data and #e.data or 0)
  local name, prefix = e.name, ""
  if #name > 100 then -- ustar: the leading directories go to the prefix field
    local cut = name:sub(1, 155):match("^.*()/")
    prefix, name = name:sub(1, cut - 1), name:sub(cut + 1)
  end
  local h = field(name, 100) .. octal(e.type == "5" and 493 or 420, 8) .. octal(0, 8)
    .. octal(0, 8) .. octal(size, 12) .. octal(1700000000, 12) .. "        "
    .. (e.type or "0") .. field(e.link or "", 100) .. "ustar\0" .. "00"
    .. field("root", 32) .. field("root", 32) .. octal(0, 8) .. octal(0, 8)
    .. field(prefix, 155) .. string.rep("\0", 12)
  assert(#h == 512)
  local sum = 0
  for i = 1, 512 do sum = sum + h:byte(i) end
  return h:sub(1, 148) .. string.format("%06o\0 ", sum) .. h:sub(157)
end

-- The archive of entries, in order, with its two closing zero blocks.
function _M.build(entries)
  local out = {}
  for _, e in ipairs(entries) do
    out[#out + 1] = header(e)
    local data = e.data or ""
    if #data > 0 then
      out[#out + 1] = data .. string.rep("\0", (512 - #data % 512) % 512)
    end
  end
  out[#out + 1] = string.rep("\0", 1024)
  return table.concat(out)
end

-- A metadata.xml as a BBB node writes it, for recordID id of meeting `meeting` (namespaced
-- "<frontend>~<id>"), format `format`; o: start (ms), published (bool), meta (extra pairs).
function _M.metadata(id, meeting, format, o)
  o = o or {}
  local meta = { "<meetingName>Room " .. id .. "</meetingName>", "<isBreakout>false</isBreakout>",
    "<meetingId>" .. meeting .. "</meetingId>" }
  for k, v in pairs(o.meta or {}) do meta[#meta + 1] = "<" .. k .. ">" .. v .. "</" .. k .. ">" end
  local start = o.start or 1700000000000
  return table.concat({
    '<?xml version="1.0"?>\n<recording>',
    "<id>", id, "</id><state>published</state><published>",
    o.published == false and "false" or "true", "</published>",
    "<start_time>", start, "</start_time><end_time>", start + 600000, "</end_time>",
    "<participants>3</participants>",
    '<meeting id="', id, '" externalId="', meeting, '" name="Room ', id, '" breakout="false"/>',
    "<meta>", table.concat(meta), "</meta>",
    "<playback><format>", format, "</format>",
    "<link>https://node1.example.org/playback/", format, "/2.3/", id, "</link>",
    "<processing_time>4882</processing_time><duration>32860</duration><size>248378</size>",
    "</playback><raw_size>871354</raw_size></recording>" })
end

-- The entries of one well-formed <format>/<id>/ tree with a couple of media files.
function _M.tree(id, meeting, format, o)
  format = format or "presentation"
  local base = format .. "/" .. id
  return {
    { name = format .. "/", type = "5" },
    { name = base .. "/", type = "5" },
    { name = base .. "/metadata.xml", data = _M.metadata(id, meeting, format, o) },
    { name = base .. "/shapes.svg", data = "<svg>" .. id .. "</svg>" },
    { name = base .. "/video/", type = "5" },
    { name = base .. "/video/webcams.webm", data = string.rep("w", 3000) },
  }
end

-- A fresh recordID shaped like BBB's (<40 hex>-<13 digits>).
function _M.record_id()
  return require("helpers").random_hex(20) .. "-1700000000000"
end

-- Concatenates entry lists.
function _M.join(...)
  local out = {}
  for _, list in ipairs({ ... }) do
    for _, e in ipairs(list) do out[#out + 1] = e end
  end
  return out
end

return _M
