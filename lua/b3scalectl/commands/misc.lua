-- db migrate / migrate (local) and version
local json = require("b3scalectl.json")
local util = require("b3scalectl.util")

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function migrate(ctx)
    local db = ctx.getenv("B3SCALE_DB_URL")
    if not db or db == "" then
        util.fail("config", "db migrate runs build/b3scaled migrate here and needs B3SCALE_DB_URL " ..
            "(e.g. postgresql://b3scale:pw@dbhost/b3scale)")
    end
    -- the checkout's build with the checkout's migrations; installed (package, make
    -- install), the b3scaled on PATH, which knows where its migrations are
    local bin = ctx.root .. "/build/b3scaled"
    local f = io.open(bin, "rb")
    local cmd
    if f then
        f:close()
        cmd = shq(bin) .. " migrate"
        local sqldir = ctx.getenv("B3SCALE_SQL_DIR")
        if not sqldir or sqldir == "" then
            cmd = "B3SCALE_SQL_DIR=" .. shq(ctx.root .. "/sql") .. " " .. cmd
        end
    else
        local p = io.popen("command -v b3scaled 2>/dev/null")
        local found = p and p:read("*l")
        if p then p:close() end
        if not found or found == "" then
            util.fail("config", bin .. " is missing and no b3scaled is on PATH: build first (make)")
        end
        cmd = shq(found) .. " migrate"
    end
    io.stdout:flush()
    local a, b, c = os.execute(cmd)
    local code = (type(a) == "number") and math.floor(a / 256) or (b == "exit" and c or 1)
    -- b3scaled has already said what went wrong, in one line
    return code ~= 0 and 1 or 0
end

local MIGRATE_HELP = "Applies pending database migrations by running <root>/build/b3scaled migrate on\n" ..
    "this machine (not through the API), or the b3scaled on PATH when installed. Needs\n" ..
    "B3SCALE_DB_URL; B3SCALE_SQL_DIR defaults to <root>/sql (installed: b3scaled's own)."

return {
    {
        words = { "db", "migrate" },
        summary = "apply migrations locally (needs B3SCALE_DB_URL)",
        help = MIGRATE_HELP,
        run = migrate,
    },
    {
        words = { "migrate" },
        summary = "same as db migrate",
        help = MIGRATE_HELP,
        run = migrate,
    },
    {
        words = { "version" },
        summary = "b3scalectl's and the server's version",
        help = "Prints b3scalectl's version and the server's (GET /api/v1), with the database\n" ..
               "state and pending migrations.",
        run = function(ctx)
            if not ctx.json then ctx.out("b3scalectl " .. ctx.version .. "\n") end
            local _, raw, v = ctx.client().get("/api/v1")
            if ctx.json then
                return ctx.out(json.encode({ client = ctx.version,
                    server = json.raw((raw:gsub("%s+$", ""))) }) .. "\n")
            end
            v = type(v) == "table" and v or {}
            ctx.out(string.format("b3scaled   %s at %s (api %s)\n", util.show(v.version) or "?", ctx.api,
                util.show(v.api) or "?"))
            local db = type(v.database) == "table" and v.database or nil
            if db then
                if db.available == false then ctx.out("warning: the server's database is unavailable\n") end
                local pend = type(db.pending_migrations) == "table" and db.pending_migrations or {}
                if #pend > 0 then
                    local names = {}
                    for _, p in ipairs(pend) do names[#names + 1] = tostring(p) end
                    ctx.out("warning: pending migrations: " .. table.concat(names, ", ") ..
                        " (run b3scalectl db migrate)\n")
                end
            end
        end,
    },
}
