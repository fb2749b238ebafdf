-- wrk script for scripts/cluster-bench.sh: spreads wrk's threads over the
-- nodes in CANOPY_NODES (host:port,...), one node per thread in turn, and
-- sends CANOPY_OP requests: create (POST a fresh node under
-- /bench/t<thread>, named apart by CANOPY_RUN), set (PUT
-- /bench/s<thread>), get or stale-get
-- (GET /bench/get). done() prints one JSON line with the totals.
local op = os.getenv("CANOPY_OP") or "get"
local run = os.getenv("CANOPY_RUN") or "0"
local body = string.rep("x", tonumber(os.getenv("CANOPY_SIZE") or "100"))
local addrs, threads = {}, {}

function setup(thread)
	if #addrs == 0 then
		for hostport in string.gmatch(os.getenv("CANOPY_NODES"), "[^,]+") do
			local host, port = hostport:match("^(.+):(%d+)$")
			table.insert(addrs, wrk.lookup(host, port)[1])
		end
	end
	local i = #threads + 1
	thread.addr = addrs[(i - 1) % #addrs + 1]
	thread:set("tid", i)
	table.insert(threads, thread)
end

-- Only creates need a request built each time: the other ops send one
-- fixed request, which wrk builds once (a Lua call per request would cost
-- the load generator more CPU than the reads cost the nodes).
if op == "create" then
	local n = 0
	request = function()
		n = n + 1
		return wrk.format("POST", "/v1/nodes/bench/t" .. tid .. "/r" .. run .. "-" .. n, nil, body)
	end
elseif op == "set" then
	wrk.method, wrk.body = "PUT", body
elseif op == "stale-get" then
	wrk.path = "/v1/nodes/bench/get?consistency=stale"
else
	wrk.path = "/v1/nodes/bench/get"
end

-- The path of a set names the thread, known only once setup has run.
function init(args)
	if op == "set" then
		wrk.path = "/v1/nodes/bench/s" .. tid
	end
end

function done(summary, latency, requests)
	local errs = summary.errors
	local failed = errs.connect + errs.read + errs.write + errs.status + errs.timeout
	io.write(string.format(
		'{"op":"%s","requests":%d,"seconds":%.3f,"ops_per_s":%.0f,"p50_ms":%.2f,"p99_ms":%.2f,"errors":%d}\n',
		op, summary.requests, summary.duration / 1e6,
		(summary.requests - errs.status) / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, failed))
end
