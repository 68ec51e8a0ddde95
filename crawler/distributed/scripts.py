"""The Lua scripts behind ``crawler.distributed.queue``: each change to the queue is one
script, so two workers, or a worker and the reaper, never see half of it. The key names
are in the queue module's docstring."""

# Shared by every script: ARGV[1] is always the key prefix.
LIB = r"""
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function base(sweep) return P .. 'sweep:' .. sweep .. ':' end
local function activate(sweep)
  redis.call('ZADD', P .. 'sweeps', 'NX', redis.call('INCR', P .. 'tick'), sweep)
end
local function count(sweep, field, n)
  redis.call('HINCRBY', base(sweep) .. 'counts', field, n)
end
-- 1 if enqueued, 0 if its fingerprint was seen before in this sweep
local function enqueue(sweep, body, priority, fp, kind)
  local b = base(sweep)
  redis.call('SADD', P .. 'sweep-ids', sweep)
  if fp ~= '' and redis.call('SADD', b .. 'seen', fp) == 0 then
    count(sweep, 'duplicates', 1)
    return 0
  end
  local msg = string.format('%012d', redis.call('INCR', b .. 'seq'))
  redis.call('HSET', b .. 'requests', msg, body)
  redis.call('ZADD', b .. 'queue', -tonumber(priority), msg)
  count(sweep, kind, 1)
  count(sweep, 'outstanding', 1)
  activate(sweep)
  return 1
end
local function lease_info(lease)
  local flat = redis.call('HGETALL', P .. 'lease:' .. lease)
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
local function forget_lease(lease, h)
  redis.call('DEL', P .. 'lease:' .. lease)
  redis.call('ZREM', P .. 'leases', lease)
  redis.call('SREM', base(h.sweep) .. 'leases', lease)
  redis.call('SREM', P .. 'worker:' .. h.worker .. ':leases', lease)
end
-- a lease handed back or run out: back to the queue, or dead-lettered when it failed
-- more than max times; returns 1 requeued, 2 dead
local function give_back(lease, h, failed, max)
  forget_lease(lease, h)
  local b = base(h.sweep)
  if failed then
    local n = redis.call('HINCRBY', b .. 'expired', h.msg, 1)
    if n > max then
      redis.call('HSET', b .. 'dead', h.msg, redis.call('HGET', b .. 'requests', h.msg))
      redis.call('HDEL', b .. 'requests', h.msg)
      redis.call('HDEL', b .. 'expired', h.msg)
      count(h.sweep, 'dead', 1)
      count(h.sweep, 'outstanding', -1)
      return 2
    end
    count(h.sweep, 'redelivered', 1)
  else
    count(h.sweep, 'released', 1)
  end
  redis.call('ZADD', b .. 'queue', h.score, h.msg)
  activate(h.sweep)
  return 1
end
"""

# ARGV: prefix, sweep, then (body, priority, fingerprint) per request
PUSH = LIB + r"""
local added = {}
for i = 3, #ARGV, 3 do
  added[#added + 1] = enqueue(ARGV[2], ARGV[i], ARGV[i + 1], ARGV[i + 2], 'seeded')
end
return added
"""

# ARGV: prefix, worker, lease id, lease ms, only this sweep ('' = any)
LEASE = LIB + r"""
local worker, lease, ms, only = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local sweeps
if only ~= '' then sweeps = {only} else sweeps = redis.call('ZRANGE', P .. 'sweeps', 0, -1) end
for _, sweep in ipairs(sweeps) do
  local b = base(sweep)
  local top = redis.call('ZRANGE', b .. 'queue', 0, 0, 'WITHSCORES')
  if top[1] then
    local msg, score = top[1], top[2]
    redis.call('ZREM', b .. 'queue', msg)
    redis.call('HSET', P .. 'lease:' .. lease, 'sweep', sweep, 'msg', msg, 'worker', worker,
               'score', score)
    redis.call('ZADD', P .. 'leases', now_ms() + ms, lease)
    redis.call('SADD', b .. 'leases', lease)
    redis.call('SADD', P .. 'worker:' .. worker .. ':leases', lease)
    -- to the back of the round robin, so one big sweep does not starve the others
    redis.call('ZADD', P .. 'sweeps', redis.call('INCR', P .. 'tick'), sweep)
    local failed = tonumber(redis.call('HGET', b .. 'expired', msg) or '0')
    return {sweep, redis.call('HGET', b .. 'requests', msg), failed}
  end
  redis.call('ZREM', P .. 'sweeps', sweep)
end
return false
"""

# ARGV: prefix, lease id, number of children, (body, priority, fingerprint) per child,
# then item JSON texts. Returns -1 for a lease that is not held (ran out, or cleared).
ACK = LIB + r"""
local lease, n = ARGV[2], tonumber(ARGV[3])
local h = lease_info(lease)
if not h then return -1 end
forget_lease(lease, h)
local b = base(h.sweep)
redis.call('HDEL', b .. 'requests', h.msg)
redis.call('HDEL', b .. 'expired', h.msg)
count(h.sweep, 'acked', 1)
count(h.sweep, 'outstanding', -1)
local added = 0
local last = 3 + 3 * n
for i = 4, last, 3 do
  added = added + enqueue(h.sweep, ARGV[i], ARGV[i + 1], ARGV[i + 2], 'spawned')
end
for i = last + 1, #ARGV do
  redis.call('RPUSH', b .. 'items', ARGV[i])
  count(h.sweep, 'items', 1)
end
return added
"""

# ARGV: prefix, lease id, failed (1/0), max redeliveries. 0 when the lease is not held.
GIVE_BACK = LIB + r"""
local h = lease_info(ARGV[2])
if not h then return 0 end
return give_back(ARGV[2], h, ARGV[3] == '1', tonumber(ARGV[4]))
"""

# ARGV: prefix, worker, failed (1/0), max redeliveries. Returns how many were handed back.
RELEASE_WORKER = LIB + r"""
local key = P .. 'worker:' .. ARGV[2] .. ':leases'
local n = 0
for _, lease in ipairs(redis.call('SMEMBERS', key)) do
  local h = lease_info(lease)
  if h then give_back(lease, h, ARGV[3] == '1', tonumber(ARGV[4])); n = n + 1 end
end
redis.call('DEL', key)
return n
"""

# ARGV: prefix, max redeliveries, batch. Returns {requeued, dead}.
REAP = LIB + r"""
local max, batch = tonumber(ARGV[2]), tonumber(ARGV[3])
local requeued, dead = 0, 0
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now_ms(),
                                  'LIMIT', 0, batch)) do
  local h = lease_info(lease)
  if h then
    if give_back(lease, h, true, max) == 2 then dead = dead + 1 else requeued = requeued + 1 end
  else
    redis.call('ZREM', P .. 'leases', lease)
  end
end
return {requeued, dead}
"""

# ARGV: prefix, lease id, lease ms. 1 if renewed, 0 if the lease is not held.
RENEW = LIB + r"""
if redis.call('EXISTS', P .. 'lease:' .. ARGV[2]) == 0 then return 0 end
redis.call('ZADD', P .. 'leases', now_ms() + tonumber(ARGV[3]), ARGV[2])
return 1
"""

# ARGV: prefix, sweep. Returns the outstanding count it dropped.
CLEAR = LIB + r"""
local sweep = ARGV[2]
local b = base(sweep)
local dropped = tonumber(redis.call('HGET', b .. 'counts', 'outstanding') or '0')
for _, lease in ipairs(redis.call('SMEMBERS', b .. 'leases')) do
  local h = lease_info(lease)
  if h then forget_lease(lease, h) else redis.call('ZREM', P .. 'leases', lease) end
end
for _, suffix in ipairs({'queue', 'requests', 'expired', 'leases', 'seen', 'dead', 'items',
                         'counts', 'seq', 'job'}) do
  redis.call('DEL', b .. suffix)
end
redis.call('ZREM', P .. 'sweeps', sweep)
redis.call('SREM', P .. 'sweep-ids', sweep)
return dropped
"""
