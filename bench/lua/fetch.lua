-- GET /v1/Channels/{Sid} with a Sid picked at random from the file named by the
-- first script argument (one Sid a line, sampled across the whole data set).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local sids = {}

function init(args)
   for line in io.lines(args[1]) do
      sids[#sids + 1] = line
   end
   math.randomseed(os.time() * 31 + id)
end

function request()
   return wrk.format("GET", "/v1/Channels/" .. sids[math.random(#sids)])
end
