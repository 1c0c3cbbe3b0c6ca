-- GET one page of 50 at a random position: a PageToken picked at random from the file
-- named by the first script argument (one a line: the token of every page of a walk
-- with PageSize=1000). Pages differ from request to request, so this is the cost of
-- rows no cache holds.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local tokens = {}

function init(args)
   for line in io.lines(args[1]) do
      tokens[#tokens + 1] = line
   end
   math.randomseed(os.time() * 17 + id)
end

function request()
   return wrk.format("GET", "/v1/Channels?PageSize=50&Page=1&PageToken=" .. tokens[math.random(#tokens)])
end
