-- show usage: attendee-minutes by meeting instance and by frontend, for billing
-- (docs/admin-api.md, "Usage"): a table, RFC 4180 CSV with --csv, the JSON with --json.
local json = require("b3scalectl.json")
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")

local _M = {}

_M.PAGE = 10000               -- the API's largest page
_M.COLUMNS = { "frontend", "meeting_id", "internal_id", "backend_host", "started_at", "ended_at",
    "peak_attendees", "attendee_minutes" }

-- "2026-11" -> "2026-11-01", "2026-12-01" (the month as a range of UTC days), or nil
function _M.month_range(s)
    local y, m = tostring(s):match("^(%d%d%d%d)%-(%d%d)$")
    y, m = tonumber(y), tonumber(m)
    if not y or m < 1 or m > 12 then return nil end
    local ny, nm = y, m + 1
    if nm == 13 then ny, nm = y + 1, 1 end
    return string.format("%04d-%02d-01", y, m), string.format("%04d-%02d-01", ny, nm)
end

-- one RFC 4180 field: quoted (quotes doubled) when it holds a quote, comma, CR or LF. A
-- text that a spreadsheet would run as a formula (=, +, -, @, tab or CR first: a tenant
-- chooses its meeting IDs) gets a leading ' so it is shown, not evaluated.
function _M.csv_field(v)
    local s = util.show(v) or ""
    if type(v) == "string" and s:find("^[=+%-@\t\r]") then s = "'" .. s end
    if s:find('[",\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
    return s
end

-- the meetings as CSV text: a header row, CRLF line ends
function _M.csv(meetings)
    local lines = { table.concat(_M.COLUMNS, ",") }
    for _, m in ipairs(meetings) do
        local f = {}
        for i, c in ipairs(_M.COLUMNS) do f[i] = _M.csv_field(m[c]) end
        lines[#lines + 1] = table.concat(f, ",")
    end
    return table.concat(lines, "\r\n") .. "\r\n"
end

-- every page of GET /api/v1/usage?<q>: the first page's answer with all meeting rows
function _M.fetch(ctx, q)
    local all, cursor = nil, nil
    repeat
        local p = {}
        for _, x in ipairs(q) do p[#p + 1] = x end
        p[#p + 1] = "limit=" .. _M.PAGE
        if cursor then p[#p + 1] = "cursor=" .. http.urlencode(cursor) end
        local _, _, page = ctx.client().get("/api/v1/usage?" .. table.concat(p, "&"))
        if type(page) ~= "table" then util.fail("protocol", "unexpected answer from /api/v1/usage") end
        if not all then
            all = page
        else
            for _, m in ipairs(page.meetings or {}) do all.meetings[#all.meetings + 1] = m end
        end
        cursor = page.next
    until cursor == nil or cursor == json.null
    all.next = nil
    return all
end

local function run(ctx, _, flags)
    local from, to = flags.from, flags.to
    if flags.month then
        if from or to then util.usage("show usage: --month or --from/--to, not both") end
        from, to = _M.month_range(flags.month)
        if not from then util.usage("show usage: --month must be YYYY-MM, got " .. flags.month) end
    end
    local q = {}
    if flags.frontend then q[#q + 1] = "frontend=" .. http.urlencode(flags.frontend) end
    if from then q[#q + 1] = "from=" .. http.urlencode(from) end
    if to then q[#q + 1] = "to=" .. http.urlencode(to) end
    local u = _M.fetch(ctx, q)
    local meetings = u.meetings or json.array()
    if flags.csv then return ctx.out(_M.csv(meetings)) end
    if ctx.json then return ctx.out(json.encode(u) .. "\n") end
    local out = { string.format("usage from %s to %s\n\n", util.show(u.from), util.show(u.to)) }
    if #meetings == 0 then
        out[#out + 1] = "no meetings\n"
    else
        local rows = {}
        for _, m in ipairs(meetings) do
            rows[#rows + 1] = { util.show(m.frontend), util.show(m.meeting_id),
                util.show(m.started_at), util.show(m.ended_at) or "running",
                util.show(m.peak_attendees), string.format("%.2f", tonumber(m.attendee_minutes) or 0),
                util.show(m.backend_host) }
        end
        out[#out + 1] = tbl.render({ "FRONTEND", "MEETING", "STARTED", "ENDED", "PEAK",
            "ATTENDEE MIN", "NODE" }, rows)
    end
    local totals = {}
    for _, t in ipairs(u.frontends or {}) do
        totals[#totals + 1] = { util.show(t.frontend), util.show(t.meetings), util.show(t.peak_attendees),
            string.format("%.2f", tonumber(t.attendee_minutes) or 0) }
    end
    out[#out + 1] = "\n" .. tbl.render({ "FRONTEND", "MEETINGS", "PEAK", "ATTENDEE MIN" }, totals)
    ctx.out(table.concat(out))
end

_M.commands = {
    {
        words = { "show", "usage" }, flags = { "frontend", "month", "from", "to", "csv" },
        flag_help = {
            frontend = "only this frontend (key); default every frontend the token sees",
            month = "a calendar month in UTC, e.g. 2026-11",
            from = "start (inclusive): 2026-11-01 or 2026-11-01T08:00:00Z",
            to = "end (exclusive); default now",
            csv = "the meeting rows as RFC 4180 CSV (header row, CRLF; a text starting with =, +, -, @ gets a leading ')",
        },
        summary = "attendee-minutes by meeting and frontend, for billing",
        help = "Lists every meeting instance that overlaps the range: FRONTEND, MEETING (the\n" ..
               "frontend's own ID), STARTED, ENDED, PEAK (attendees), ATTENDEE MIN (clipped to\n" ..
               "the range) and NODE, then the totals per frontend. Without a range: this UTC\n" ..
               "month so far. A re-create on another node after a failure is a second row.\n" ..
               "--csv prints the meeting rows as CSV, --json the API's answer (all pages). A\n" ..
               "tenant token (scope b3scale) sees only its own frontends.",
        run = run,
    },
}

return setmetatable(_M.commands, { __index = _M })
