-- The Graph budget's buckets as Redis hashes: reserve() and throttle() of buckets.py, line for
-- line, so that one call is atomic for every worker sharing the Redis.
-- KEYS: the buckets (reserve: the pair's, then the app's; throttle: the pair's).
-- ARGV: op ('reserve' or 'throttle'), recovery seconds, now ('' for Redis's own TIME), then
--   reserve:  max_wait, then capacity and rate of each bucket;
--   throttle: capacity, rate, seconds to block, MIN_FACTOR, DECREASE.
-- reserve answers {granted 0/1, wait, index of the bucket waiting longest, now}.
local op = ARGV[1]
local recovery = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function load(key)
  local v = redis.call('HMGET', key, 'tokens', 'counted_at', 'factor')
  return tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 1
end
local function refill(tokens, counted_at, factor, rate, capacity)
  if now <= counted_at then return tokens, counted_at, factor end
  local elapsed, accrued = now - counted_at, 0
  if factor >= 1 then
    accrued = rate * elapsed
  else
    local climb = (1 - factor) * recovery
    if elapsed <= climb then
      accrued = rate * elapsed * (factor + elapsed / (2 * recovery))
    else
      accrued = rate * (climb * (factor + 1) / 2 + (elapsed - climb))
    end
  end
  return math.min(capacity, tokens + accrued), now, math.min(1, factor + elapsed / recovery)
end
local function to_accrue(rate, factor, needed)
  if needed <= 0 then return 0 end
  if factor >= 1 then return needed / rate end
  local climb = (1 - factor) * recovery
  local during_climb = rate * climb * (factor + 1) / 2
  if needed <= during_climb then
    local root = math.sqrt(factor * factor + 2 * needed / (rate * recovery))
    return 2 * needed / (rate * (factor + root))
  end
  return climb + (needed - during_climb) / rate
end
local function save(key, tokens, counted_at, factor, rate, capacity)
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens),
             'counted_at', string.format('%.17g', counted_at),
             'factor', string.format('%.17g', factor))
  local idle = math.max(counted_at - now, 0) + 2 * (capacity / rate + recovery) + 3600
  redis.call('PEXPIRE', key, math.ceil(idle * 1000))
end
if op == 'reserve' then
  local max_wait, states, wait, limiting = tonumber(ARGV[4]), {}, nil, 0
  for i = 1, #KEYS do
    local capacity, rate = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
    local t, c, f = load(KEYS[i])
    local tokens, counted_at, factor = refill(t, c, f, rate, capacity)
    local turn = math.max(now, counted_at) - now + to_accrue(rate, factor, 1 - tokens)
    if wait == nil or turn > wait then wait, limiting = turn, i - 1 end
    states[i] = {tokens, counted_at, factor, rate, capacity}
  end
  local granted = wait <= max_wait
  for i = 1, #KEYS do
    local s = states[i]
    local tokens = s[1]
    if granted then tokens = tokens - 1 end
    save(KEYS[i], tokens, s[2], s[3], s[4], s[5])
  end
  return {granted and 1 or 0, string.format('%.17g', wait), limiting,
          string.format('%.17g', now)}
end
local capacity, rate, seconds = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local min_factor, decrease = tonumber(ARGV[7]), tonumber(ARGV[8])
local t, c, f = load(KEYS[1])
local tokens, counted_at, factor = refill(t, c, f, rate, capacity)
local blocked_until = now + math.max(seconds, 0)
if counted_at > now then
  save(KEYS[1], tokens, math.max(counted_at, blocked_until), factor, rate, capacity)
else
  save(KEYS[1], math.min(tokens, 0), blocked_until, math.max(min_factor, factor * decrease),
       rate, capacity)
end
return 1
