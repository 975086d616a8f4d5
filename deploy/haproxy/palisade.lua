-- palisade forward-auth for HAProxy 2.5+ (core.httpclient): asks palisade about every
-- request before it is forwarded, and leaves the answer in transaction variables that the
-- configuration acts on (see the README). The original request is described from what
-- HAProxy itself saw, never from headers the client sent; if palisade cannot be asked,
-- txn.palisade_status is 503 and the configuration denies (fail closed).
--
--   global
--     lua-load /etc/haproxy/palisade.lua
--   frontend app
--     http-request lua.palisade-auth http://accounts.internal:8080/api/v1/authz/forward-auth

local passed_on = { "cookie", "authorization", "accept", "x-requested-with" }
local answered = { "remote-user", "remote-email", "remote-name", "remote-groups", "location" }

local function all_values(values)
  local list = {}
  if values then
    for i = 0, #values do
      if values[i] ~= nil then list[#list + 1] = values[i] end
    end
  end
  return list
end

core.register_action("palisade-auth", { "http-req" }, function(txn, url)
  local request = txn.http:req_get_headers()
  local host = all_values(request["host"])[1] or ""
  -- The scheme from the bind the request came in on. `txn.sf` fetches return strings, so
  -- ssl_fc is "1" or "0" there (and both strings are true to Lua); `txn.f` may give a
  -- boolean or an integer. Anything but a clear yes is plain HTTP.
  local fc = txn.f:ssl_fc()
  local tls = fc == true or fc == 1 or fc == "1"
  local headers = {
    ["x-forwarded-method"] = { txn.sf:method() },
    ["x-forwarded-proto"] = { tls and "https" or "http" },
    ["x-forwarded-host"] = { host },
    ["x-forwarded-uri"] = { txn.sf:pathq() },
    ["x-forwarded-for"] = { txn.sf:src() },
  }
  for _, name in ipairs(passed_on) do
    local values = all_values(request[name])
    if #values > 0 then headers[name] = values end
  end
  local ok, response = pcall(function()
    return core.httpclient():get({ url = url, headers = headers, timeout = 5000 })
  end)
  if not ok or response == nil or response.status == nil or response.status == 0 then
    txn:set_var("txn.palisade_status", 503)
    return
  end
  txn:set_var("txn.palisade_status", response.status)
  for _, name in ipairs(answered) do
    local value = all_values((response.headers or {})[name])[1]
    if value ~= nil then
      txn:set_var("txn.palisade_" .. name:gsub("-", "_"), value)
    end
  end
end, 1)
