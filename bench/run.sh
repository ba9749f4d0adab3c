#!/bin/sh
# `make bench`: runs the benchmarks in sequence, each as `npx tsx bench/<name>.ts`, against the
# built binary (the Makefile builds first). `sh bench/run.sh NAME...` runs only the named ones.
#
# To add a benchmark: write bench/<name>.ts and add a `run <name>` line below. A benchmark that
# drives load with h2load calls `need_h2load` first; it installs nghttp2-client only if h2load is
# missing. Figures are printed, and each benchmark may also write .bench/<name>.json.
set -eu
cd "$(dirname "$0")/.."

need_h2load() {
  command -v h2load >/dev/null 2>&1 && return 0
  echo "bench: h2load is missing; installing nghttp2-client" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y nghttp2-client >&2; else sudo apt-get install -y nghttp2-client >&2; fi
}

run() {
  name=$1
  if [ -n "$ONLY" ]; then
    case " $ONLY " in *" $name "*) ;; *) return 0 ;; esac
  fi
  echo "== bench/$name.ts"
  npx tsx "bench/$name.ts"
}

ONLY="$*"

# Admin API and CLI over the embedded store: create 10,000 secrets, time get/describe/list.
run secrets

# Injector: ext_authz Check under h2load beside a no-op grpc-js Check server measured in the same
# run (serial p50/p99, capacity at 100 in flight, p99 at 1000 req/s, each as a ratio to the floor).
case " ${ONLY:-injector} " in *" injector "*) need_h2load ;; esac
run injector

# pai's own work per Check in process (decode, handler, answer; no transport): what the mix ratio
# of the footprint part leaves to pai.
run check-handler

# ext_proc: Process per request (headers only; SigV4 over a 1 KiB and a 1 MiB body) beside Check in
# the same run, grpc-js clients over the unix socket, serial and 16 in flight (target ≤ 2× Check).
run ext-proc

# Policy (issue 13): a Check whose Provider has a 20-action allow list, a deny list and a 2-repository
# scope beside the same Check without policy, request log on (target ≥ 0.9×).
run policy-check

# gateway-mode Check (agent token, certificate) beside sidecar-mode Check, grpc-js over the unix socket.
run gateway

# Footprint and mix (issue 15): `pai serve --role injector` beside the no-op floor under the same node
# flags: RSS idle, RSS after 200,000 Checks, capacity for one request and for a mix of 8 agents × 4
# hosts with Envoy's headers, each against the floor (BENCH_NODE_FLAGS="A;B" compares flag sets).
case " ${ONLY:-footprint} " in *" footprint "*) need_h2load ;; esac
run footprint

# TLS interception core: leaf issue time (3 and 40 hosts) and SDS answer time over the unix socket
# (stream cold: issue + answer; warm: answer only; FetchSecrets), serial p50/p99.
run tls

# TLS through a running pai serve: FetchSecrets warm/cold, a binding change's push and the fetch after
# it, and a Check with SDS idle vs 100 open streams vs streams plus back-to-back leaf issuing (ratio).
run tls-serve

# Shared-injector mode (issue 15): Check over the unix socket (one injector per pod) beside Check over
# mTLS on loopback (one injector for BENCH_AGENTS pods, SPIFFE client certificates), p50/p99 and
# capacity, and each injector's RSS idle and after the load.
run shared
