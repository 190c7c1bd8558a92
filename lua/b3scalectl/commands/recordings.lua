-- recording commands: show, set (visibility), delete, import
local ltn12 = require("ltn12")
local json = require("b3scalectl.json")
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")

local IMPORT_TIMEOUT = 600    -- seconds: the server checks and extracts the whole archive

local function path_of(id)
    return "/api/v1/recordings/" .. http.urlencode(id)
end

-- ms since the epoch as RFC 3339 UTC, as the API shows timestamps
local function time_of(ms)
    if type(ms) ~= "number" then return nil end
    return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(ms / 1000))
end

local function formats_of(r)
    local names = {}
    for _, f in ipairs(type(r.formats) == "table" and r.formats or {}) do
        names[#names + 1] = util.show(f.format)
    end
    return table.concat(names, ",")
end

-- what `import recordings` sends for a file name: tar.gz / tgz are gzip, anything else tar
local function content_type(name)
    local l = name:lower()
    if l:match("%.tar%.gz$") or l:match("%.tgz$") then return "application/gzip" end
    return "application/x-tar"
end

return {
    {
        words = { "show", "recordings" }, flags = { "frontend", "meeting" },
        flag_help = {
            frontend = "only the recordings of this frontend (key)",
            meeting = "only the recordings of this meeting (the frontend's meeting ID)",
        },
        summary = "list imported recordings, newest first",
        help = "Lists the imported recordings visible to the token, newest first: RECORD ID,\n" ..
               "FRONTEND, MEETING ID, STATE, VISIBILITY, FORMATS, STARTED, PARTICIPANTS.\n" ..
               "A tenant token (scope b3scale) sees only its own frontends' recordings.",
        run = function(ctx, _, flags)
            local q = {}
            if flags.frontend then q[#q + 1] = "frontend=" .. http.urlencode(flags.frontend) end
            if flags.meeting then q[#q + 1] = "meeting=" .. http.urlencode(flags.meeting) end
            local list = util.all_pages(ctx, "/api/v1/recordings", q)
            if ctx.json then return ctx.out(json.encode(list) .. "\n") end
            if #list == 0 then return ctx.out("no recordings\n") end
            local rows = {}
            for _, r in ipairs(list) do
                rows[#rows + 1] = {
                    util.show(r.record_id), util.show(r.frontend), util.show(r.meeting_id),
                    util.show(r.state), util.show(r.visibility), formats_of(r),
                    time_of(r.start_time), util.show(r.participants),
                }
            end
            ctx.out(tbl.render({ "RECORD ID", "FRONTEND", "MEETING ID", "STATE", "VISIBILITY",
                "FORMATS", "STARTED", "PARTICIPANTS" }, rows))
        end,
    },
    {
        words = { "set", "recording" }, args = { "recordID" }, flags = { "visibility" },
        required = { visibility = true },
        flag_help = {
            visibility = "unpublished, published, protected, public or public_protected",
        },
        summary = "change a recording's visibility (publish / unpublish)",
        help = "Sets the recording's visibility. unpublished unpublishes it, every other value\n" ..
               "publishes it; its files move between published/ and unpublished/ right after.",
        run = function(ctx, args, flags)
            local _, raw, v = ctx.client().patch(path_of(args[1]), { visibility = flags.visibility })
            v = type(v) == "table" and v or {}
            util.reply(ctx, raw, "recording %s: visibility %s, state %s\n", args[1],
                util.show(v.visibility) or "?", util.show(v.state) or "?")
        end,
    },
    {
        words = { "delete", "recording" }, args = { "recordID" },
        summary = "delete a recording and its files",
        help = "Deletes the recording: its files are removed right after, then its record.",
        run = function(ctx, args)
            local _, raw = ctx.client().delete(path_of(args[1]))
            util.reply(ctx, raw, "deleted recording %s\n", args[1])
        end,
    },
    {
        words = { "import", "recordings" }, args = { "file" }, flags = { "frontend" },
        flag_help = {
            frontend = "the frontend (key) of recordings whose meeting ID is not namespaced",
        },
        summary = "upload a tar of <format>/<recordID>/ trees",
        help = "Uploads FILE (a tar of <format>/<recordID>/ trees as a BBB node publishes them;\n" ..
               ".tar.gz or .tgz: gzip-compressed) to POST /api/v1/recordings/import and lists\n" ..
               "what was imported. The file is streamed, not read into memory. Each tree's\n" ..
               "frontend comes from its namespaced meeting ID (<frontend>~<id>); --frontend names\n" ..
               "it for others. Needs an admin (or node agent) token. See docs/recordings.md.",
        run = function(ctx, args, flags)
            local name = args[1]
            local f, err = io.open(name, "rb")
            if not f then util.fail("config", "cannot open " .. tostring(err)) end
            local length = f:seek("end")
            f:seek("set")
            local path = "/api/v1/recordings/import"
            if flags.frontend then path = path .. "?frontend=" .. http.urlencode(flags.frontend) end
            local _, raw, v = ctx.client().request("POST", path, nil, { timeout = IMPORT_TIMEOUT,
                stream = { source = ltn12.source.file(f), length = length, type = content_type(name) } })
            if ctx.json then return util.print_json(ctx, raw) end
            local list = type(v) == "table" and type(v.imported) == "table" and v.imported or {}
            if #list == 0 then return ctx.out("nothing imported\n") end
            local rows = {}
            for _, r in ipairs(list) do
                rows[#rows + 1] = { util.show(r.record_id), util.show(r.format), util.show(r.frontend),
                    util.show(r.meeting_id) }
            end
            ctx.out(tbl.render({ "RECORD ID", "FORMAT", "FRONTEND", "MEETING ID" }, rows))
        end,
    },
}
