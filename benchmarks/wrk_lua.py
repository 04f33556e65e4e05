"""wrk as the load generator: a Lua script over a file of prepared requests, and its result.

`run_wrk` starts `wrk -t T -c C -d S --latency -s script URL -- FILE T [RATE]` and returns what it
measured, with wrk's own CPU time (from `wait4`, user + system) so a caller can tell a saturated
generator from a saturated server. The request file holds one request per line,
`METHOD \\t PATH \\t name:value|name:value \\t BODY`; each wrk thread takes every T-th line and
sends them in order, once each, formatted ahead of the run (`wrk.format`). Signed requests must
not repeat: a thread that runs out sends its last request again, which the node refuses as a
replay, so an exhausted file shows as non-200 answers and voids the round. A file of one line
(an unsigned `eth_call`) is sent over and over.

With RATE (requests per second over all connections) each thread hands its requests time
slots `threads / RATE` seconds apart (wrk's `delay()`, LuaJIT's clock), so the load is
rate-limited whatever the latency as long as the connections suffice; latency is measured
from when a request is sent, not from its slot, so it is understated under overload.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } yrd_timespec;
  int clock_gettime(int clock, yrd_timespec *now);
]]
local now_spec = ffi.new("yrd_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, now_spec)  -- CLOCK_MONOTONIC
  return tonumber(now_spec.tv_sec) * 1000 + tonumber(now_spec.tv_nsec) / 1e6
end

local requests = {}
local counter = 0
local interval_ms = 0
local next_slot_ms = 0
local cycle = false
local threads_started = 0

function setup(thread)
  thread:set("thread_index", threads_started)
  threads_started = threads_started + 1
end

local function split(text, separator)
  local parts = {}
  for part in string.gmatch(text .. separator, "(.-)" .. separator) do
    table.insert(parts, part)
  end
  return parts
end

local function format_line(line)
  local fields = split(line, "\t")
  local headers = {}
  if fields[3] ~= "" then
    for _, pair in ipairs(split(fields[3], "|")) do
      local name, value = string.match(pair, "([^:]+):(.*)")
      headers[name] = value
    end
  end
  local body = fields[4]
  if body == "" then body = nil end
  return wrk.format(fields[1], fields[2], headers, body)
end

function init(args)
  local lines = {}
  for line in io.lines(args[1]) do table.insert(lines, line) end
  local threads = tonumber(args[2])
  local rate = tonumber(args[3] or "0")
  cycle = (#lines == 1)
  for n, line in ipairs(lines) do
    if cycle or (n - 1) % threads == thread_index then
      table.insert(requests, format_line(line))
    end
  end
  if thread_index == 0 and not cycle and #requests > 0 then
    -- wrk calls request() once on thread 0 to check the script before the run: that call
    -- takes this copy, so the first real request still goes out
    table.insert(requests, 1, requests[1])
  end
  if rate > 0 then
    interval_ms = threads * 1000 / rate  -- this thread's share of the rate
  end
end

function delay()
  -- each request takes the thread's next free slot, `interval_ms` after the last one, so the
  -- thread sends at its share of the rate whatever the latency (while connections suffice)
  if interval_ms == 0 then return 0 end
  local now = now_ms()
  local slot = math.max(next_slot_ms, now)
  next_slot_ms = slot + interval_ms
  return math.floor(slot - now)
end

function request()
  if cycle then return requests[1] end
  counter = counter + 1
  if counter > #requests then return requests[#requests] end
  return requests[counter]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: requests, rate, non-2xx/3xx answers, socket errors, latencies, wrk CPU."""

    requests: int
    seconds: float
    per_s: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_seconds: float  # wrk's user + system CPU
    cpu_percent_of_threads: float  # 100 means every wrk thread was busy all the time

    @property
    def failed_fraction(self) -> float:
        """Non-2xx answers and socket errors over requests."""
        return (self.non_2xx + self.socket_errors) / max(self.requests, 1)


def encode_request_line(method: str, path: str, headers: dict[str, str], body: str = "") -> str:
    """One line of a request file."""
    fields = [method, path, body, *headers, *headers.values()]
    if any(mark in field for field in fields for mark in ("\t", "\n", "|")):
        raise ValueError("request fields must not hold tabs, newlines or '|'")
    pairs = "|".join(f"{name}:{value}" for name, value in headers.items())
    return f"{method}\t{path}\t{pairs}\t{body}\n"


def write_script(directory: Path) -> Path:
    """The Lua script, written once into `directory`."""
    path = directory / "requests.lua"
    path.write_text(LUA_SCRIPT, encoding="utf-8")
    return path


def run_wrk(url: str, request_file: Path, script: Path, seconds: float, threads: int = 2,
            connections: int = 32, rate: float | None = None) -> WrkResult:
    """Run wrk once against `url` (scheme, host and port) and parse its summary."""
    command = ["wrk", "-t", str(threads), "-c", str(connections),
               "-d", f"{max(1, round(seconds))}s",  # wrk takes whole seconds
               "--latency", "--timeout", "10s", "-s", str(script), url, "--",
               str(request_file), str(threads)]
    if rate:
        command.append(str(int(rate)))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stderr is not None
    output = process.stdout.read()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    found = [line for line in output.splitlines() if line.startswith("WRKJSON ")]
    if process.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({process.returncode}), {' '.join(command)}: "
                           f"{(errors + output).strip()[:300]}")
    figures = json.loads(found[-1][len("WRKJSON "):])
    elapsed = figures["duration_us"] / 1e6
    cpu = usage.ru_utime + usage.ru_stime
    return WrkResult(
        requests=figures["requests"], seconds=round(elapsed, 3),
        per_s=round(figures["requests"] / elapsed, 1), non_2xx=figures["status_errors"],
        socket_errors=figures["socket_errors"], p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000, p99_ms=figures["p99_us"] / 1000,
        cpu_seconds=round(cpu, 3),
        cpu_percent_of_threads=round(100 * cpu / (elapsed * threads), 1))
