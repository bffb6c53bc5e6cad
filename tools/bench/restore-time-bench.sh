#!/usr/bin/env bash
# Builds the project and runs the restore time driver: a keyed job on a MiniCluster loads every
# key, updates random keys at a fixed rate with a checkpoint every second, is cancelled and started
# again from its last checkpoint; with this backend alone and wrapped in Flink's changelog backend
# (file system changelog storage), several rounds taking turns. Prints a Markdown table: checkpoint
# sizes against the changed bytes, and the restore time of the slowest keyed subtask.
#
#   bash tools/bench/restore-time-bench.sh [--keys=200000] [--value-bytes=100]
#       [--updates-per-second=2000] [--update-seconds=30] [--rounds=2] [--parallelism=2]
#       [--managed-memory-mb=256] [--dir=PATH]
#       [--setup=incremental|changelog:<materialization interval>]...
#           (default: incremental, changelog:10s and changelog:10min, Flink's default interval)
#
# Extra Maven arguments (for example -o) go in MAVEN_EXTRA_ARGS; see run-driver.sh. The driver is
# io.statebackend.incremental.bench.RestoreTimeBenchmark in flink-statebackend-incremental-tests.
set -euo pipefail

exec bash "$(dirname "$0")/run-driver.sh" 2g io.statebackend.incremental.bench.RestoreTimeBenchmark "$@"
