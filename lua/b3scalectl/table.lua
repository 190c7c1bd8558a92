-- Human output: aligned tables and key/value blocks. Column widths count UTF-8 characters.
local _M = {}

local function width(s)
    local _, n = tostring(s):gsub("[^\128-\191]", "")
    return n
end

-- one cell: nil / json null / "" become "-"; newlines flattened
function _M.cell(v)
    if v == nil or type(v) == "userdata" or v == "" then return "-" end
    return (tostring(v):gsub("%s*\n%s*", " "))
end

-- headers: list of titles; rows: list of lists of cells. Returns the text (ends in \n).
-- Two spaces between columns, no trailing blanks.
function _M.render(headers, rows)
    local w = {}
    for i, hd in ipairs(headers) do w[i] = width(hd) end
    local cells = {}
    for r, row in ipairs(rows) do
        cells[r] = {}
        for i = 1, #headers do
            local c = _M.cell(row[i])
            cells[r][i] = c
            if width(c) > w[i] then w[i] = width(c) end
        end
    end
    local out = {}
    local function line(vals)
        local parts = {}
        for i, v in ipairs(vals) do
            if i < #vals then
                parts[i] = v .. string.rep(" ", w[i] - width(v))
            else
                parts[i] = v
            end
        end
        out[#out + 1] = (table.concat(parts, "  "):gsub("%s+$", ""))
    end
    line(headers)
    for _, row in ipairs(cells) do line(row) end
    return table.concat(out, "\n") .. "\n"
end

-- pairs: list of { label, value }: "label:  value" with labels aligned
function _M.kv(pairs_)
    local w = 0
    for _, p in ipairs(pairs_) do if width(p[1]) > w then w = width(p[1]) end end
    local out = {}
    for _, p in ipairs(pairs_) do
        out[#out + 1] = p[1] .. ":" .. string.rep(" ", w - width(p[1]) + 2) .. _M.cell(p[2])
    end
    return table.concat(out, "\n") .. "\n"
end

return _M
