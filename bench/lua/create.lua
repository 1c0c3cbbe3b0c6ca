-- POST /v1/Channels with an Identity no request used before (run id, thread, counter),
-- so every request creates a channel; counts the 201s for the durability check.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local flow, run
local counter = 0
created = 0

function init(args)
   flow, run = args[1], args[2]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   counter = counter + 1
   local body = "FlexFlowSid=" .. flow .. "&Identity=bench-" .. run .. "-" .. id .. "-" .. counter
      .. "&ChatUserFriendlyName=Bench+user&ChatFriendlyName=Bench+chat"
   return wrk.format("POST", "/v1/Channels", nil, body)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   end
end
