-- Refresh grants at full speed: every answer's new refresh token is the next request's
-- (rotation; a token is never sent twice). Each thread takes every Nth family of the file.
-- args: TOKEN_FILE THREADS BASIC
local threads, count = {}, 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end
function init(args)
  queue, ok, bad = {}, 0, 0
  local n = 0
  for line in io.lines(args[1]) do
    if n % tonumber(args[2]) == id - 1 then table.insert(queue, line) end
    n = n + 1
  end
  basic = args[3]
end
function request()
  local token = table.remove(queue, 1)
  return wrk.format("POST", "/oauth2/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. basic,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  local token = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if token then ok = ok + 1; table.insert(queue, token) else bad = bad + 1 end
end
function done(summary)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do ok = ok + t:get("ok"); bad = bad + t:get("bad") end
  io.write(string.format("grants %d refused %d per_second %.0f\n", ok, bad, ok / (summary.duration / 1e6)))
end
