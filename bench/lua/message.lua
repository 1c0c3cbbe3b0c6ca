-- POST a message to the channel whose Messages URL is the request path; the first
-- script argument "webhooks" adds X-Twilio-Webhook-Enabled: true (events to deliver).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local counter = 0
created = 0

function init(args)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   if args[1] == "webhooks" then
      wrk.headers["X-Twilio-Webhook-Enabled"] = "true"
   end
end

function request()
   counter = counter + 1
   return wrk.format(nil, nil, nil, "From=customer&Body=bench+message+" .. id .. "-" .. counter)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   end
end
