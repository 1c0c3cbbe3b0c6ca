-- The same GET over and over (wrk's prebuilt request: no Lua per request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
