-- wrk script that stores objects in a cache before the "many objects" rows:
-- requests PREFIX0 .. PREFIX(N-1) once each, in order, then stops the
-- thread once N responses are in (the few requests sent meanwhile repeat
-- the last key). Use with one thread: wrk -t1 -s fill.lua URL -- PREFIX N
local prefix, n
local sent, received = 0, 0

function init(args)
	prefix = args[1]
	n = tonumber(args[2])
end

function request()
	local key = sent
	if key >= n then
		key = n - 1
	end
	sent = sent + 1
	return wrk.format("GET", prefix .. key)
end

function response(status, headers, body)
	received = received + 1
	if received >= n then
		wrk.thread:stop()
	end
end
