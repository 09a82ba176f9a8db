# Shared by the bench/ scripts (sourced, not run): start the local AWS API (moto) on a
# free loopback port, seed it with m2m-admin (table, active RS256 key, one API, one
# client, one grant), and build the release token function. Sets: root, venv, bin_dir,
# bench_client_id, bench_client_secret, bench_api; cleans up on exit.
# Release builds go to ${CARGO_TARGET_DIR:-$root/target}.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
infra/local/bootstrap
venv="$root/.venv"
export PATH="$venv/bin:$PATH"
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin_dir="$target_dir/release"

free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export M2M_LOCAL_AWS_PORT=${M2M_LOCAL_AWS_PORT:-$(free_port)}
export M2M_LOCAL_PORT=${M2M_LOCAL_PORT:-$(free_port)}
export M2M_TABLE=m2m-auth-bench
# shellcheck source=infra/local/env.sh
source infra/local/env.sh
unset M2M_CLAIMS_HOOK # no hook: token reuse applies (it is off with a hook by default)

bench_pids=()
bench_cleanup() {
  trap - EXIT INT TERM
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap bench_cleanup EXIT INT TERM

mkdir -p .local
# The local AWS API with keep-alive (infra/local/moto-serve), as AWS endpoints behave.
python infra/local/moto-serve -H 127.0.0.1 -p "$M2M_LOCAL_AWS_PORT" --threads "${M2M_BENCH_MOTO_THREADS:-8}" > .local/bench-moto.log 2>&1 &
bench_pids+=($!)
moto_up=0
for _ in $(seq 1 100); do
  if curl -fs "$AWS_ENDPOINT_URL/moto-api/" -o /dev/null; then moto_up=1; break; fi
  sleep 0.2
done
if [ "$moto_up" != 1 ]; then
  echo "bench: the local AWS API did not answer on $AWS_ENDPOINT_URL within 20 s; its log:" >&2
  tail -n 40 .local/bench-moto.log >&2 || true
  exit 1
fi

echo "bench: building m2m-admin (debug) and the token function (release, $bin_dir)" >&2
CARGO_TARGET_DIR="$root/target" cargo build -q -p m2m-admin
admin="$root/target/debug/m2m-admin"
# A script that builds the function itself (under cargo lambda watch) sets
# bench_skip_release_build=1 before sourcing this file.
[ "${bench_skip_release_build:-0}" = 1 ] || cargo build -q --release --locked -p token
"$admin" init >/dev/null
bench_api="https://api.example.com"
"$admin" api create --identifier "$bench_api" --name "Bench API" --scopes read:orders,write:orders >/dev/null
created=$("$admin" --json client create --name "Bench client" --org org_bench)
bench_client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$created")
bench_client_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$created")
"$admin" grant add --client "$bench_client_id" --api "$bench_api" --scopes read:orders,write:orders >/dev/null
