-- wrk script that stores objects in a cache before the "many objects" rows:
-- asks for PREFIX0 .. PREFIX(N-1) in order, and again from the start while
-- any of them has not been answered, then ends the process (wrk itself
-- would run to the end of its -d duration). A key counts as answered when
-- a response carries it in X-Key, which the origin sets (so a stored copy
-- has it too); wrk gives response() no other way to tell which request it
-- answers.
-- Use with one thread: wrk -t1 -s fill.lua URL -- PREFIX N
local prefix, n
local sent, answered = 0, 0
local done = {}

function init(args)
	prefix = args[1]
	n = tonumber(args[2])
end

function request()
	local key = sent % n
	sent = sent + 1
	return wrk.format("GET", prefix .. key)
end

function response(status, headers, body)
	local key = headers["X-Key"] or headers["x-key"]
	if status == 200 and key and not done[key] then
		done[key] = true
		answered = answered + 1
		if answered >= n then
			os.exit(0)
		end
	end
end
