-- Builds multipart/form-data bodies as browsers and BBB client libraries send them (a
-- preamble, quoted boundary), for putRecordingTextTrack.
local h = require("helpers")

local _M = {}

-- The body of parts { name, data, filename, ctype } and its Content-Type.
function _M.build(parts)
  local boundary = "----b3sForm" .. h.random_hex(8)
  local out = { "preamble a client may send\r\n" }
  for _, p in ipairs(parts) do
    out[#out + 1] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. p.name
      .. "\"" .. (p.filename and ("; filename=\"" .. p.filename .. "\"") or "") .. "\r\n"
      .. "Content-Type: " .. (p.ctype or "application/octet-stream") .. "\r\n\r\n"
      .. p.data .. "\r\n"
  end
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return table.concat(out), "multipart/form-data; boundary=\"" .. boundary .. "\""
end

-- A putRecordingTextTrack body: a field of no interest, then the `file` part holding data.
function _M.track(data, filename)
  return _M.build({ { name = "note", data = "x" },
    { name = "file", filename = filename or "track.vtt", data = data } })
end

return _M
