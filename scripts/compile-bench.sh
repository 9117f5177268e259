#!/usr/bin/env bash
# What a CI runner with a cold cache pays before its first answer:
# - the program compiled the way Pulumi's Go language host builds it
#   (`go build -o <tmp>` in the project directory), cold (empty build cache),
#   warm, and after an edit to main.go; against a "floor" that imports the same
#   outside packages (cmd/floor) and does nothing;
# - the binary's size and how many pulumi-kubernetes packages it compiles;
# - a first preview's evaluation with no Lambda artifact and no Go on PATH.
#
#   scripts/compile-bench.sh
#
# A cold run compiles the AWS, Kubernetes and Talos SDKs and the standard
# library: minutes on two cores. Run nothing else meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$(mktemp -d)
out=$(mktemp -d)
cp main.go "$out/main.go.orig"
trap 'cp "$out/main.go.orig" main.go; rm -rf "$cache" "$out"' EXIT

seconds() { # seconds CMD... -> prints wall seconds of CMD
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

build_program() { GOCACHE="$cache" go build -o "$out/program" .; }
build_floor() { GOCACHE="$cache" go build -tags floor -o "$out/floor" ./cmd/floor; }

go mod download
floor_cold=$(seconds build_floor)
# The floor warmed the SDKs: the program's "cold" would be unfair now, so
# measure it with its own empty cache.
rm -rf "$cache"; mkdir -p "$cache"
program_cold=$(seconds build_program)
floor_warm=$(seconds build_floor)
program_warm=$(seconds build_program)
# An edit (not just a new mtime: go keys on content) recompiles main and
# relinks.
printf '\n// compile-bench edit\n' >> main.go
program_touched=$(seconds build_program)
cp "$out/main.go.orig" main.go
size=$(stat -c %s "$out/program")
# A first preview's evaluation of the HA program with the real guard code,
# no go on PATH and an empty cache (had it built the Lambda, it would fail):
# the time the test reports, its compile excluded.
preview=$(go test -count=1 -run '^TestPreviewBuildsNoLambda$' -v ./program |
  sed -n 's/.*PASS: TestPreviewBuildsNoLambda (\(.*\)s)/\1/p')
k8s=$(go list -deps . | grep -c 'pulumi-kubernetes/sdk' || true)

printf '%-40s %8s\n' "measure" "value"
printf '%-40s %8.1f s\n' "floor, cold cache" "$floor_cold"
printf '%-40s %8.1f s\n' "program, cold cache" "$program_cold"
printf '%-40s %8.1f s\n' "floor, warm" "$floor_warm"
printf '%-40s %8.1f s\n' "program, warm (no change)" "$program_warm"
printf '%-40s %8.1f s\n' "program, warm (main.go edited)" "$program_touched"
printf '%-40s %8.2f s\n' "first preview, no Lambda artifact/cache" "$preview"
printf '%-40s %8.1f MB\n' "program binary" "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')"
printf '%-40s %8d\n' "pulumi-kubernetes packages compiled" "$k8s"
awk -v p="$program_cold" -v f="$floor_cold" 'BEGIN { printf "cold ratio program/floor: %.2f\n", p / f }'
