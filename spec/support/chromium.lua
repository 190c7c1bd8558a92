-- Headless Chromium for specs (Debian package `chromium`, listed in .ci/packages).
--
--   local chromium = require("support.chromium")   -- or dofile("spec/support/chromium.lua")
--   local ok, why = chromium.available()            -- false + reason: mark the test pending
--   local dom = chromium.dump_dom(url, { budget_ms = 6000 })
--   local png = chromium.screenshot(url, path, { width = 1280, height = 900 })
--
-- Every run gets a fresh --user-data-dir (so no cookie, cache or storage survives between
-- runs), no sandbox (specs run as root on CI), no GPU and no network other than the URL.
local h = require("helpers")

local _M = {}

_M.TIMEOUT = 60   -- seconds one chromium run may take

local FLAGS = {
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--no-default-browser-check", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-extensions",
  "--disable-default-apps", "--disable-dev-shm-usage", "--mute-audio",
  "--hide-scrollbars", "--password-store=basic", "--use-mock-keychain",
}

local binary_cache


-- the chromium executable (B3SCALE_CHROMIUM, else the first of the usual names in PATH)
function _M.binary()
  if binary_cache ~= nil then
    return binary_cache or nil
  end
  local candidates = { os.getenv("B3SCALE_CHROMIUM") or "", "chromium", "chromium-browser",
    "google-chrome", "google-chrome-stable" }
  for _, name in ipairs(candidates) do
    if name ~= "" then
      local p = io.popen("command -v " .. h.shell_quote(name) .. " 2>/dev/null")
      local path = p and h.trim(p:read("*a") or "") or ""
      if p then p:close() end
      if path ~= "" then
        binary_cache = path
        return path
      end
    end
  end
  binary_cache = false
  return nil
end


local function profile()
  local dir = h.tmpdir() .. "/chromium-" .. h.random_hex(4)
  assert(os.execute("mkdir -p " .. h.shell_quote(dir)) == 0)
  return dir
end


-- runs chromium with FLAGS + extra + url; returns exit code, output (stdout+stderr)
local function run(extra, url, timeout)
  local bin = assert(_M.binary(), "chromium is not installed")
  local argv = { bin }
  for _, f in ipairs(FLAGS) do argv[#argv + 1] = f end
  argv[#argv + 1] = "--user-data-dir=" .. profile()
  for _, f in ipairs(extra) do argv[#argv + 1] = f end
  argv[#argv + 1] = url
  -- HOME in the scratch dir: chromium writes caches and crash dumps below it
  local env = { HOME = h.tmpdir(), XDG_CONFIG_HOME = false, XDG_CACHE_HOME = false }
  return h.run(argv, env, timeout or _M.TIMEOUT)
end


-- the serialised DOM of url after budget_ms of virtual time (scripts, timers and fetches ran)
function _M.dump_dom(url, opts)
  opts = opts or {}
  local out = h.tmpdir() .. "/dom-" .. h.random_hex(4) .. ".html"
  -- --dump-dom writes to stdout; h.run mixes stderr into the same log, so the DOM is cut
  -- out of it between the doctype-less <html ...> and </html>
  local code, text = run({ "--virtual-time-budget=" .. tostring(opts.budget_ms or 6000),
    "--window-size=" .. (opts.width or 1280) .. "," .. (opts.height or 900), "--dump-dom" },
    url, opts.timeout)
  local dom = text:match("(<html.*</html>)")
  if not dom then
    return nil, "chromium (exit " .. tostring(code) .. ") printed no DOM:\n" .. text:sub(1, 4000)
  end
  h.write_file(out, dom)
  return dom, out
end


-- a PNG of url after budget_ms; returns path or nil + chromium's output
function _M.screenshot(url, path, opts)
  opts = opts or {}
  os.remove(path)
  local code, text = run({ "--virtual-time-budget=" .. tostring(opts.budget_ms or 6000),
    "--window-size=" .. (opts.width or 1280) .. "," .. (opts.height or 900),
    "--screenshot=" .. path }, url, opts.timeout)
  local png = h.read_file(path)
  if not png or png:sub(1, 8) ~= "\137PNG\r\n\26\n" then
    return nil, "chromium (exit " .. tostring(code) .. ") made no screenshot:\n" .. text:sub(1, 4000)
  end
  return path
end


-- true, or false and why chromium cannot be used here (not installed, does not start)
function _M.available()
  if not _M.binary() then
    return false, "chromium is not installed (apt-get install chromium; .ci/packages lists it)"
  end
  local dom, err = _M.dump_dom("data:text/html,<html><body><p id=x>ok</p></body></html>",
    { budget_ms = 100, timeout = 45 })
  if not dom or not dom:find('id="x"', 1, true) then
    return false, "chromium does not start headless here: " .. tostring(err):sub(1, 600)
  end
  return true
end


return _M
