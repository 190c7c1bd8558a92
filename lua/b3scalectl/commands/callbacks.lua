-- show callbacks: the outbox (docs/callbacks.md, "Delivery")
local json = require("b3scalectl.json")
local tbl  = require("b3scalectl.table")
local util = require("b3scalectl.util")
local http = require("b3scalectl.http")

-- what needs an operator's eye: not yet delivered, or never will be
local DEFAULT_STATES = "pending,failed,refused"

return {
    {
        words = { "show", "callbacks" }, flags = { "frontend", "state" },
        flag_help = {
            frontend = "only the callbacks of this frontend (key)",
            state = "pending, delivered, failed, refused, a comma-separated list, or all\n" ..
                    string.rep(" ", 25) .. "(default " .. DEFAULT_STATES .. ")",
        },
        summary = "list callbacks waiting, given up or refused",
        help = "Lists the callbacks of the outbox, newest first: ID, FRONTEND, KIND, STATE,\n" ..
               "ATTEMPTS, STATUS (the last HTTP status), NEXT ATTEMPT, ERROR (why the last attempt\n" ..
               "did not deliver) and URL (query values redacted). Without --state only those\n" ..
               "pending, failed or refused. A tenant token (scope b3scale) sees only its own\n" ..
               "frontends' callbacks.",
        run = function(ctx, _, flags)
            local q = {}
            if flags.frontend then q[#q + 1] = "frontend=" .. http.urlencode(flags.frontend) end
            local state = flags.state or DEFAULT_STATES
            if state ~= "all" then q[#q + 1] = "state=" .. http.urlencode(state) end
            local list = util.all_pages(ctx, "/api/v1/callbacks", q)
            if ctx.json then return ctx.out(json.encode(list) .. "\n") end
            if #list == 0 then return ctx.out("no callbacks\n") end
            local rows = {}
            for _, c in ipairs(list) do
                rows[#rows + 1] = {
                    util.show(c.id), util.show(c.frontend), util.show(c.kind), util.show(c.state),
                    util.show(c.attempts), util.show(c.last_status), util.show(c.next_at),
                    util.show(c.last_error), util.show(c.url),
                }
            end
            ctx.out(tbl.render({ "ID", "FRONTEND", "KIND", "STATE", "ATTEMPTS", "STATUS",
                "NEXT ATTEMPT", "ERROR", "URL" }, rows))
        end,
    },
}
