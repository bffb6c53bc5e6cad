#!/usr/bin/env bash
# Builds the project and runs the TTL cleanup driver: keys written once with a short TTL, then
# other keys written with incremental checkpoints, for no TTL, TTL without cleanup, incremental
# cleanup and background cleanup, side by side in one JVM. Prints Markdown tables: expired entries
# left in RocksDB and live SST bytes after every round, and throughput ratios.
#
#   bash tools/bench/ttl-bench.sh [--keys=1000000] [--working-set=500000] [--round=500000]
#       [--rounds=8] [--value-bytes=16] [--dir=PATH]
#
# Extra Maven arguments (for example -o) go in MAVEN_EXTRA_ARGS; see run-driver.sh. The driver is
# io.statebackend.incremental.bench.TtlCleanupBenchmark in flink-statebackend-incremental-tests.
set -euo pipefail

exec bash "$(dirname "$0")/run-driver.sh" 1g io.statebackend.incremental.bench.TtlCleanupBenchmark "$@"
