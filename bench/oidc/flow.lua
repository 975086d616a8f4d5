-- Whole authorization-code flows: authorize (a signed-in user, consent remembered) answers
-- a code; the code is redeemed at the token endpoint. A flow counts when its tokens come.
-- args: AUTHORIZE_PATH COOKIE BASIC REDIRECT VERIFIER
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  codes, flows, bad = {}, 0, 0
  authorize, cookie, basic, redirect, verifier = args[1], args[2], args[3], args[4], args[5]
end
function request()
  local code = table.remove(codes, 1)
  if code then
    return wrk.format("POST", "/oauth2/token", {
      ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. basic,
    }, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect .. "&code_verifier=" .. verifier)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = cookie })
end
function response(status, headers, body)
  if status == 303 then
    local location = headers["location"] or headers["Location"] or ""
    local code = location:match("[?&]code=([^&]+)")
    if code then table.insert(codes, code) else bad = bad + 1 end
  elseif status == 200 then
    flows = flows + 1
  else
    bad = bad + 1
  end
end
function done(summary)
  local flows, bad = 0, 0
  for _, t in ipairs(threads) do flows = flows + t:get("flows"); bad = bad + t:get("bad") end
  io.write(string.format("flows %d refused %d per_second %.0f\n", flows, bad, flows / (summary.duration / 1e6)))
end
