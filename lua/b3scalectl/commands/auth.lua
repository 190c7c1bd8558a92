-- auth: minting tokens offline with the daemon's secret
local json = require("b3scalectl.json")
local jwt  = require("b3scalectl.jwt")
local util = require("b3scalectl.util")

local DEFAULT_EXPIRES = "24h"

local function secret_of(ctx, flags)
    local s = flags.secret
    if s == nil or s == "" then s = ctx.getenv("B3SCALE_API_JWT_SECRET") end
    if s == nil or s == "" then
        util.fail("config", "no secret: give --secret or set B3SCALE_API_JWT_SECRET (the daemon's secret)")
    end
    return s
end

local function ttl_of(flags)
    local ttl, err = util.parse_duration(flags.expires or DEFAULT_EXPIRES)
    if not ttl then util.usage("--expires: " .. err) end
    return ttl
end

-- the claims and the signed token for sub and scopes, with --expires and --secret
local function mint(ctx, flags, sub, scopes)
    local claims = jwt.claims(sub, scopes, ttl_of(flags))
    return claims, jwt.encode(claims, secret_of(ctx, flags))
end

local function expiry_text(claims)
    if not claims.exp then return "never" end
    return os.date("!%Y-%m-%dT%H:%M:%SZ", claims.exp)
end

local EXPIRES_HELP = "lifetime: 90m, 24h, 7d, 1h30m or seconds; 0 = never expires (default 24h)"
local SECRET_HELP = "the daemon's B3SCALE_API_JWT_SECRET (default: that variable)"

return {
    {
        words = { "auth", "create_access_token" },
        flags = { "sub", "scopes", "expires", "secret" }, required = { sub = true, scopes = true },
        flag_help = {
            sub = "the token's subject: the account ref for scope b3scale",
            scopes = "comma-separated: b3scale:admin, b3scale (tenant), b3scale:node",
            expires = EXPIRES_HELP, secret = SECRET_HELP,
        },
        summary = "print a new API token (offline)",
        help = "Prints an HS384 token for the admin API signed with the daemon's secret. Works\n" ..
               "offline. A token with scope b3scale sees only the frontends whose account ref is\n" ..
               "its sub. Also accepted: auth create-access-token.",
        run = function(ctx, _, flags)
            local scopes = util.csv(flags.scopes)
            if #scopes == 0 then util.usage("--scopes: give at least one scope") end
            if flags.sub == "" then util.usage("--sub must not be empty") end
            local claims, token = mint(ctx, flags, flags.sub, scopes)
            if ctx.json then
                return ctx.out(json.encode({ token = token, sub = claims.sub, scope = claims.scope,
                    exp = claims.exp or json.null }) .. "\n")
            end
            ctx.out(token .. "\n")
        end,
    },
    {
        words = { "auth", "authorize_node_agent" },
        flags = { "ref", "expires", "secret" },
        flag_help = {
            ref = "the agent ref (token sub); default node-<8 random hex>",
            expires = EXPIRES_HELP, secret = SECRET_HELP,
        },
        summary = "print a node agent token (scope b3scale:node)",
        help = "Prints a token with scope b3scale:node for a node agent. It may register one\n" ..
               "backend (agent_ref = the ref), which starts disabled (admin state init) until\n" ..
               "an admin enables it, see and report the state of that backend, nothing else.\n" ..
               "Works offline. Also accepted: auth authorize-node-agent.",
        run = function(ctx, _, flags)
            local ref = flags.ref
            if ref == nil or ref == "" then ref = "node-" .. jwt.random_hex(4) end
            local claims, token = mint(ctx, flags, ref, { "b3scale:node" })
            if ctx.json then
                return ctx.out(json.encode({ ref = ref, token = token, exp = claims.exp or json.null }) .. "\n")
            end
            ctx.out(string.format("ref:      %s\ntoken:    %s\nexpires:  %s\n", ref, token, expiry_text(claims)))
        end,
    },
}
