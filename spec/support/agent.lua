-- The real b3scaleagent for integration specs, as a node runs it: registering its backend,
-- following Redis, reporting to daemon d. Waits until it has subscribed and sent its state.
local h = require("helpers")

local _M = {}

-- o: d (daemon), sim (its node), redis (support.redis), token (b3scale:node), env (extra)
function _M.start(o)
  local env = {
    BBB_CONFIG = "/nonexistent/bbb-web.properties",
    B3SCALE_API_URL = o.d.url, B3SCALE_API_ACCESS_TOKEN = o.token,
    B3SCALE_AGENT_BBB_API = o.sim.url, B3SCALE_AGENT_BBB_SECRET = o.sim.secret,
    B3SCALE_AGENT_REDIS_HOST = "127.0.0.1", B3SCALE_AGENT_REDIS_PORT = o.redis.port,
    B3SCALE_AGENT_HEARTBEAT_MS = "250", B3SCALE_AGENT_FLUSH_MS = "100",
    B3SCALE_AGENT_RECORDINGS_DIR = "", -- uploads: recordings_chain_spec turns them on
    B3SCALE_LOG_LEVEL = "debug",
  }
  for k, v in pairs(o.env or {}) do env[k] = v end
  local agent = h.spawn({ h.BUILD .. "/b3scaleagent", "--register" }, env)
  assert(h.wait_until(function()
    local log = h.read_file(agent.log) or ""
    return log:find("event=redis_subscribed", 1, true) and log:find("event=state_sent", 1, true)
  end, 10), "agent did not subscribe and report: " .. (h.read_file(agent.log) or ""))
  return agent
end

return _M
