# CPU-per-token measurement shared by bench/cpu-per-token and bench/cpu-floor (sourced
# after bench/lib.sh): oha installed into .local/tools on first use, the process
# accounting (CPU ticks and context switches of every thread of a set of processes),
# and `measure`, which loads a URL and prints the figures per HTTP 200.
# Knobs: M2M_BENCH_CONNECTIONS (8), M2M_BENCH_DURATION (20s), M2M_BENCH_PERF (0),
# M2M_BENCH_PERF_CALLGRAPH (fp).
connections=${M2M_BENCH_CONNECTIONS:-8}
duration=${M2M_BENCH_DURATION:-20s}
tools="$root/.local/tools"
if [ ! -x "$tools/bin/oha" ]; then
  echo "bench: installing oha into $tools (first run only)" >&2
  cargo install -q --locked --root "$tools" oha
fi

# Process accounting, by pid set: CPU ticks and context switches of every thread.
procstat() { # pids... -> "ticks switches"
  python3 - "$@" <<'PY'
import os, sys
ticks = switches = 0
for pid in sys.argv[1:]:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        ticks += int(f[11]) + int(f[12])  # utime, stime
        for t in os.listdir(f"/proc/{pid}/task"):
            for line in open(f"/proc/{pid}/task/{t}/status"):
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
print(ticks, switches)
PY
}
descendants() { # ancestor pid, comm -> pids of that name below it
  python3 - "$1" "$2" <<'PY'
import os, sys
root, name = int(sys.argv[1]), sys.argv[2]
parent, comm = {}, {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            parent[int(p)] = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
            comm[int(p)] = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            pass
def below(p):
    while p in parent and p > 1:
        p = parent[p]
        if p == root:
            return True
    return False
print(" ".join(str(p) for p in comm if comm[p] == name and below(p)))
PY
}

results="$root/.local/bench-cpu-results.txt"
: > "$results"
measure() { # label, url, basic-auth user:pass, body, pid-finder command...
  local label=$1 url=$2 auth=$3 data=$4; shift 4
  local out=.local/bench-cpu-oha.json pids before after
  # Warm every instance first: the run measures the steady state, not process starts.
  "$tools/bin/oha" -n $((connections * 20)) -c "$connections" --no-tui -m POST \
    -T application/x-www-form-urlencoded -a "$auth" -d "$data" "$url" >/dev/null
  pids=$("$@")
  [ -n "$pids" ] || { echo "bench: no process found for $label" >&2; exit 1; }
  before=$(procstat $pids)
  local perf_pid=
  if [ "${M2M_BENCH_PERF:-0}" = 1 ]; then
    # Sampled call graphs of the measured processes (software clock: no hardware
    # counters needed); the report's top entries go to .local/perf-<label>.txt.
    perf record -q -e cpu-clock -F 2000 --call-graph "${M2M_BENCH_PERF_CALLGRAPH:-fp}" -o ".local/perf-${label// /_}.data" -p "${pids// /,}" \
      -- sleep "${duration%s}" 2>/dev/null &
    perf_pid=$!
  fi
  "$tools/bin/oha" -z "$duration" -c "$connections" --no-tui --output-format json -m POST \
    -T application/x-www-form-urlencoded -a "$auth" -d "$data" "$url" > "$out"
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    { perf report -q -i ".local/perf-${label// /_}.data" --no-children -g none --sort dso --stdio
      perf report -q -i ".local/perf-${label// /_}.data" --no-children -g none --sort dso,sym --stdio; } \
      2>/dev/null | grep -v '^$' | head -50 > ".local/perf-${label// /_}.txt" || true
  fi
  pids=$("$@")
  after=$(procstat $pids)
  python3 - "$label" "$out" "$before" "$after" "$(getconf CLK_TCK)" "$connections" "$duration" <<'PY' | tee -a "$results"
import json, sys
label, path, before, after, hz, conns, duration = sys.argv[1:8]
r = json.load(open(path))
codes = {str(k): v for k, v in r.get("statusCodeDistribution", {}).items()}
ok = codes.get("200", 0)
(t0, s0), (t1, s1) = (map(int, before.split()), map(int, after.split()))
cpu_us = (t1 - t0) * 1e6 / int(hz)
print(f"{label:<34} {cpu_us / max(ok, 1):7.0f} us CPU/token  {(s1 - s0) / max(ok, 1):5.1f} ctx switches/token  "
      f"{r['summary']['requestsPerSec']:7.0f} req/s  codes {dict(sorted(codes.items()))}  "
      f"({conns} connections, {duration})")
PY
}
