-- wrk script for the "many objects" rows: each request asks for PREFIXk,
-- with k drawn from a Zipf distribution of exponent S over 0 .. N-1 (key 0
-- the most popular), by inverting the cumulative distribution with a binary
-- search. The seed is fixed, so every proxy gets the same key sequence.
-- Use with one thread: wrk -t1 -s zipf.lua URL -- PREFIX N S
local prefix, n
local cdf = {}

function init(args)
	prefix = args[1]
	n = tonumber(args[2])
	local s = tonumber(args[3])
	local sum = 0
	for k = 1, n do
		sum = sum + 1 / k ^ s
		cdf[k] = sum
	end
	for k = 1, n do
		cdf[k] = cdf[k] / sum
	end
	math.randomseed(20261127)
end

function request()
	local u = math.random()
	local lo, hi = 1, n
	while lo < hi do
		local mid = math.floor((lo + hi) / 2)
		if cdf[mid] < u then
			lo = mid + 1
		else
			hi = mid
		end
	end
	return wrk.format("GET", prefix .. (lo - 1))
end
