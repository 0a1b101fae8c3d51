"""Redis's clock, read at the top of the stores' Lua scripts: every process that shares a
Redis decides on the same clock, whatever its own says."""

# Seconds (`now`, a float) and milliseconds (`now_ms`, an integer) from one TIME call.
CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""
