#!/usr/bin/env bash
# Builds the project and runs the checkpoint cost driver for several rounds: in every round once
# per setup, each in a JVM of its own, on this backend's class path (upstream RocksDB) or on
# Flink's (FRocksDB; the two share the package org.rocksdb), the round deciding which setup goes
# first. Then prints one
# Markdown report: per setup, checkpoint duration p50/p99, mean and largest bytes uploaded, bytes
# changed, write amplification, largest checkpoint against the state, and state access throughput.
#
#   bash tools/bench/checkpoint-bench.sh [--rounds=3] [--state=small|1g] [--checkpoints=10]
#       [--keys=N] [--value-bytes=N] [--update-percent=1] [--insert-percent=0.5]
#       [--read-percent=10] [--transfer-threads=4] [--managed-memory-mb=128] [--seed=42]
#       [--dir=PATH] [--warmup=true] [--interval-ms=0]
#       [--setup=label:kind[:settings]]...  (this backend's setups; default: "default" with the
#                                          backend's defaults, Flink's compaction defaults, and
#                                          "tuned" with compaction tuned for incremental
#                                          checkpoints, and "ahead" and "tuned-ahead", which
#                                          also upload new SST files ahead of checkpoints,
#                                          and "blob", with values in blob files)
#       [--flink-setup=label:kind[:settings]]... (setups on Flink's class path; default:
#                                          "flink-rocksdb" with Flink's defaults)
#
# --interval-ms pauses after each step's workload, before its checkpoints, as the rest of a
# checkpoint interval of a job: background compactions and uploads ahead run meanwhile.
# Kinds: incremental, full, heap (either class path), flink-rocksdb (Flink's class path only).
# Settings: ";"-separated name=value; a name with a dot is a configuration key, other names are
# compaction options for this backend (see CompactionVariant). Example, 1 GB of state:
#   bash tools/bench/checkpoint-bench.sh --state=1g --rounds=2 --checkpoints=12
#
# Extra Maven arguments (for example -o) go in MAVEN_EXTRA_ARGS; SKIP_BUILD=true reuses the class
# paths of an earlier build; RESULTS_DIR keeps the driver's per-round results (an empty directory). The driver is io.statebackend.incremental.bench.CheckpointBenchmark.
# Nothing is installed into the local Maven repository.
set -euo pipefail

cd "$(dirname "$0")/../.."

default_setups=("--setup=default:incremental"
    "--setup=ahead:incremental:state.backend.incremental-rocksdb.checkpoint.upload-ahead=true"
    "--setup=tuned:incremental:state.backend.incremental-rocksdb.compaction.tuned-for-incremental-checkpoints=true"
    "--setup=tuned-ahead:incremental:state.backend.incremental-rocksdb.compaction.tuned-for-incremental-checkpoints=true;state.backend.incremental-rocksdb.checkpoint.upload-ahead=true"
    "--setup=blob:incremental:state.backend.incremental-rocksdb.blob-files.enabled=true")
default_flink_setups=("--setup=flink-rocksdb:flink-rocksdb")
java_heap=2g
# shellcheck source=tools/bench/rounds.sh
source tools/bench/rounds.sh
run_rounds io.statebackend.incremental.bench.CheckpointBenchmark "$@"
