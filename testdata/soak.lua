-- wrk script for the soak recipe in README.md: a mix of reads, writes (of
-- sessions and of agents) and deliberate errors, with a count of every
-- status at the end.
local base = "/v2/agents/agt_customer_support/sessions"
local calls = {
  {"GET", base .. "?limit=25"},
  {"GET", base .. "?limit=3&page_key=eyJzZXNzaW9uX2lkIjoiYXNlX2N1c3RvbWVyX3N1cHBvcnRfMDAzIn0="},
  {"GET", base .. "?enabled=true&filter=(%3Fi)billing&limit=10"},
  {"GET", base .. "/ase_customer_support_001"},
  {"GET", base .. "?limit=0"},                        -- 400
  {"GET", "/v2/agents/agt_nobody/sessions"},          -- 404
  {"POST", base, '{"key":"soak_KEY","name":"Soak"}'}, -- 201 or 409
  {"DELETE", base .. "/soak_KEY"},                    -- 204 or 404
  {"GET", "/v2/agents?limit=25"},
  {"POST", "/v2/agents", '{"key":"soak_agent_KEY","name":"Soak"}'}, -- 201 or 409
  {"PATCH", "/v2/agents/soak_agent_KEY", '{"enabled":false}'},     -- 200 or 404
  {"DELETE", "/v2/agents/soak_agent_KEY"},                          -- 204 or 404
}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {}; n = 0 end
function request()
  n = n + 1
  local c = calls[(n % #calls) + 1]
  local key = tostring(math.floor(n / #calls) % 50)
  local headers = {["x-api-key"] = "soak_key", ["Content-Type"] = "application/json"}
  return wrk.format(c[1], (string.gsub(c[2], "KEY", key)), headers, c[3] and (string.gsub(c[3], "KEY", key)) or nil)
end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d: %d\n", k, v)) end
  local e = summary.errors
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n", e.connect, e.read, e.write, e.timeout))
end
