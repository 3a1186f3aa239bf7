//! The Lua scripts of the Redis side. Every key carries the configured prefix as its hash tag
//! (`{prefix}:…`), so on a cluster all of them live on one slot and each script is legal and
//! atomic.

/// Holds an amount on every counter of a request, or says which one is over its limit.
///
/// `KEYS`: generation, lease set, lease hash, counters… `ARGV`: generation, now (ms),
/// amount, lease expiry (ms), lease id, the lease's counter keys (space-separated), the lease
/// key prefix, then one limit per counter (`-1`: none). Answers `{1}` held, `{0, i, spent,
/// reserved}` counter `i` over its limit, `{-1}` the generation is not loaded, `{-2, i}`
/// counter `i` is not seeded for this generation.
pub(crate) const RESERVE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1} end
local lp = ARGV[7]
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 64)
for _, id in ipairs(old) do
  local lk = lp .. id
  local amt = tonumber(redis.call('HGET', lk, 'amount') or '0')
  local cs = redis.call('HGET', lk, 'counters') or ''
  for c in string.gmatch(cs, '%S+') do
    if redis.call('HGET', c, 'gen') == ARGV[1] then redis.call('HINCRBY', c, 'reserved', -amt) end
  end
  redis.call('DEL', lk)
  redis.call('ZREM', KEYS[2], id)
end
local n = #KEYS - 3
for i = 1, n do
  if redis.call('HGET', KEYS[3 + i], 'gen') ~= ARGV[1] then return {-2, i} end
end
local amount = tonumber(ARGV[3])
for i = 1, n do
  local lim = tonumber(ARGV[7 + i])
  if lim >= 0 then
    local s = tonumber(redis.call('HGET', KEYS[3 + i], 'spent') or '0')
    local r = tonumber(redis.call('HGET', KEYS[3 + i], 'reserved') or '0')
    if s + r + amount > lim then return {0, i, s, r} end
  end
end
for i = 1, n do redis.call('HINCRBY', KEYS[3 + i], 'reserved', amount) end
redis.call('HSET', KEYS[3], 'amount', amount, 'counters', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
return {1}
";

/// Settles a lease: its hold is released and the real amount is added to its counters.
///
/// `KEYS`: generation, lease set, lease hash, counters… `ARGV`: generation, actual amount,
/// lease id. Answers 1, or -1 when the generation is not loaded (then the database settles).
pub(crate) const SETTLE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local actual = tonumber(ARGV[2])
local amt = redis.call('HGET', KEYS[3], 'amount')
for i = 4, #KEYS do
  if redis.call('HGET', KEYS[i], 'gen') == ARGV[1] then
    if amt then redis.call('HINCRBY', KEYS[i], 'reserved', -tonumber(amt)) end
    redis.call('HINCRBY', KEYS[i], 'spent', actual)
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
";

/// Loads the database's state for a generation: once per generation, the leases (old ones
/// dropped); and each named counter not yet seeded for it.
///
/// `KEYS`: generation, lease set, counters… `ARGV`: generation, lease key prefix, n, then
/// (spent, reserved) per counter, then (id, amount, expiry, counter keys) per lease.
pub(crate) const LOAD: &str = r"
local gen = ARGV[1]
local lp = ARGV[2]
local n = tonumber(ARGV[3])
if redis.call('GET', KEYS[1]) ~= gen then
  local old = redis.call('ZRANGE', KEYS[2], 0, -1)
  for _, id in ipairs(old) do redis.call('DEL', lp .. id) end
  redis.call('DEL', KEYS[2])
  local i = 4 + 2 * n
  while i + 3 <= #ARGV do
    redis.call('HSET', lp .. ARGV[i], 'amount', ARGV[i + 1], 'counters', ARGV[i + 3])
    redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
    i = i + 4
  end
  redis.call('SET', KEYS[1], gen)
end
for j = 1, n do
  local c = KEYS[2 + j]
  if redis.call('HGET', c, 'gen') ~= gen then
    redis.call('HSET', c, 'spent', ARGV[2 + 2 * j], 'reserved', ARGV[3 + 2 * j], 'gen', gen)
  end
end
return 1
";

/// Rate limits of one request, all or nothing: GCRA cells (requests or tokens per minute, on
/// the Redis server's clock) and parallel-request sets with leases.
///
/// `KEYS`: cells…, sets… `ARGV`: number of cells, request id, set lease ttl (µs), then
/// (interval µs, period µs, cost) per cell, then the maximum per set. Answers `{1, ahead…}`
/// (µs each cell is ahead of now after admission) or `{0, i, wait µs}`.
pub(crate) const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nc = tonumber(ARGV[1])
local np = #KEYS - nc
local news = {}
for i = 1, nc do
  local interval = tonumber(ARGV[3 * i + 1])
  local period = tonumber(ARGV[3 * i + 2])
  local cost = tonumber(ARGV[3 * i + 3])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new = tat + interval * cost
  if new - now > period then return {0, i, string.format('%.0f', new - now - period)} end
  news[i] = new
end
local base = 3 * nc + 3
for j = 1, np do
  local k = KEYS[nc + j]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  if redis.call('ZCARD', k) >= tonumber(ARGV[base + j]) then return {0, nc + j, '1000000'} end
end
local out = {1}
for i = 1, nc do
  redis.call('SET', KEYS[i], string.format('%.0f', news[i]), 'PX', math.ceil((news[i] - now) / 1000) + 1)
  out[#out + 1] = string.format('%.0f', news[i] - now)
end
local ttl = tonumber(ARGV[3])
for j = 1, np do
  redis.call('ZADD', KEYS[nc + j], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[nc + j], math.ceil(ttl / 1000) + 1000)
end
return out
";

/// Moves a GCRA cell by `delta` units (a token estimate corrected by real usage).
/// `KEYS`: cell. `ARGV`: interval µs, delta (may be negative).
pub(crate) const ADJUST: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
if new <= now then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return 1
";
