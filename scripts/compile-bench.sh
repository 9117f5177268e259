#!/usr/bin/env bash
# Measures how long the program takes to compile the way Pulumi's Go language
# host builds it (`go build -o <tmp>` in the project directory), cold (empty
# build cache) and warm (cache filled; after touching main.go), against a
# "floor" program that imports the same SDK packages and does nothing.
#
#   scripts/compile-bench.sh
#
# A cold run compiles the AWS, Kubernetes and Talos SDKs: several minutes on
# two cores. The ratio program/floor is what our own code adds.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$(mktemp -d)
out=$(mktemp -d)
trap 'rm -rf "$cache" "$out"' EXIT

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
touch main.go
program_touched=$(seconds build_program)

printf '%-28s %8s\n' "build" "seconds"
printf '%-28s %8.1f\n' "floor, cold cache" "$floor_cold"
printf '%-28s %8.1f\n' "program, cold cache" "$program_cold"
printf '%-28s %8.1f\n' "floor, warm" "$floor_warm"
printf '%-28s %8.1f\n' "program, warm (no change)" "$program_warm"
printf '%-28s %8.1f\n' "program, warm (main.go touched)" "$program_touched"
awk -v p="$program_cold" -v f="$floor_cold" 'BEGIN { printf "cold ratio program/floor: %.2f\n", p / f }' 
