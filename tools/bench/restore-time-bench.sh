#!/usr/bin/env bash
# Builds the project and runs the restore time driver: a keyed job on a MiniCluster loads every
# key, updates random keys at a fixed rate with a checkpoint every second, is cancelled and started
# again from its last checkpoint; with this backend and Flink's EmbeddedRocksDBStateBackend, each
# alone and wrapped in Flink's changelog backend (file system changelog storage). In every round one
# JVM per setup (FRocksDB and upstream RocksDB share the package org.rocksdb, and setups in one
# JVM would share its machine), the round deciding which goes first. Prints a Markdown table: checkpoint and materialization bytes against the
# changed bytes, and the restore time of the slowest keyed subtask.
#
#   bash tools/bench/restore-time-bench.sh [--rounds=3] [--keys=200000] [--value-bytes=100]
#       [--updates-per-second=2000] [--update-seconds=30] [--parallelism=2]
#       [--managed-memory-mb=256] [--dir=PATH]
#       [--setup=incremental[+changelog:<materialization interval>]]...
#           (this backend's setups; default: incremental, incremental+changelog:10s and
#           incremental+changelog:10min, Flink's default interval)
#       [--flink-setup=flink-rocksdb[+changelog:<materialization interval>]]...
#           (default: the same three with Flink's backend)
#
# Extra Maven arguments (for example -o) go in MAVEN_EXTRA_ARGS; SKIP_BUILD=true reuses the class
# paths of an earlier build (see classpaths.sh); RESULTS_DIR keeps the per-round results. The driver
# is io.statebackend.incremental.bench.RestoreTimeBenchmark in flink-statebackend-incremental-tests.
set -euo pipefail

cd "$(dirname "$0")/../.."

default_setups=(--setup=incremental --setup=incremental+changelog:10s
    --setup=incremental+changelog:10min)
default_flink_setups=(--setup=flink-rocksdb --setup=flink-rocksdb+changelog:10s
    --setup=flink-rocksdb+changelog:10min)
java_heap=2g
# shellcheck source=tools/bench/rounds.sh
source tools/bench/rounds.sh
run_rounds io.statebackend.incremental.bench.RestoreTimeBenchmark "$@"
