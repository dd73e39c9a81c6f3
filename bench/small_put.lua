-- wrk script for bench/s3_throughput.py: replays pre-signed S3 PUT requests (one object
-- each) read from the file named by TARN_BENCH_REQUESTS, split between wrk's threads.
-- wrk has no wall clock for scripts and always runs for its -d duration, so each thread
-- prints "ready" once loaded and "finished <bad>" once its share is answered; the driver
-- times between those lines and then stops wrk.
local path = os.getenv("TARN_BENCH_REQUESTS")
local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   thread:set("nthreads", 0)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   local f = assert(io.open(path, "rb"))
   local data = f:read("*a")
   f:close()
   reqs = {}
   local n = 0
   local total = tonumber(os.getenv("TARN_BENCH_THREADS"))
   -- records are "<length>\n<bytes>"
   local pos = 1
   local i = 0
   while pos <= #data do
      local nl = data:find("\n", pos, true)
      local len = tonumber(data:sub(pos, nl - 1))
      if i % total == id then
         n = n + 1
         reqs[n] = data:sub(nl + 1, nl + len)
      end
      i = i + 1
      pos = nl + 1 + len
   end
   sent = 0
   answered = 0
   bad = 0
   mine = n
   io.write("ready\n")
   io.flush()
end

function request()
   sent = sent + 1
   if sent > mine then
      return reqs[mine] -- never answered: the thread stops first
   end
   return reqs[sent]
end

function response(status, headers, body)
   answered = answered + 1
   if answered > mine then return end
   if status ~= 200 then bad = bad + 1 end
   if answered == mine then
      io.write(string.format("finished %d\n", bad))
      io.flush()
      wrk.thread:stop()
   end
end
