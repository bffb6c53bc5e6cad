#!/usr/bin/env bash
# Builds the project and runs the checkpoint cost driver for several rounds: in every round once
# on this backend's class path (upstream RocksDB) and once on Flink's (FRocksDB; the two share the
# package org.rocksdb, so each gets its own JVM), taking turns which goes first. Then prints one
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
#                                          also upload new SST files ahead of checkpoints)
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

if [ -n "${RESULTS_DIR:-}" ]; then
    # kept: each round's results are appended as the round ends, so an interrupted run keeps
    # the rounds it finished (report them with the driver's --report=incremental.tsv,flink.tsv)
    results_dir="${RESULTS_DIR}"
    mkdir -p "${results_dir}"
else
    results_dir="$(mktemp -d)"
    trap 'rm -rf "${results_dir}"' EXIT
fi

rounds=3
driver_args=()
setups=()
flink_setups=()
for arg in "$@"; do
    case "${arg}" in
        --rounds=*) rounds="${arg#--rounds=}" ;;
        --setup=*) setups+=("${arg}") ;;
        --flink-setup=*) flink_setups+=("--setup=${arg#--flink-setup=}") ;;
        *) driver_args+=("${arg}") ;;
    esac
done
if [ ${#setups[@]} -eq 0 ]; then
    setups=("--setup=default:incremental"
        "--setup=ahead:incremental:state.backend.incremental-rocksdb.checkpoint.upload-ahead=true"
        "--setup=tuned:incremental:state.backend.incremental-rocksdb.compaction.tuned-for-incremental-checkpoints=true"
        "--setup=tuned-ahead:incremental:state.backend.incremental-rocksdb.compaction.tuned-for-incremental-checkpoints=true;state.backend.incremental-rocksdb.checkpoint.upload-ahead=true")
fi
if [ ${#flink_setups[@]} -eq 0 ]; then
    flink_setups=("--setup=flink-rocksdb:flink-rocksdb")
fi

java_heap=2g
# shellcheck source=tools/bench/classpaths.sh
source tools/bench/classpaths.sh

run_incremental() {
    "${java_bin}" "${java_options[@]}" -classpath "${incremental_classpath}" \
        io.statebackend.incremental.bench.CheckpointBenchmark "${driver_args[@]}" \
        "${setups[@]}" --round="$1" --out="${results_dir}/incremental.tsv"
}
run_flink() {
    "${java_bin}" "${java_options[@]}" -classpath "${flink_classpath}" \
        io.statebackend.incremental.bench.CheckpointBenchmark "${driver_args[@]}" \
        "${flink_setups[@]}" --round="$1" --out="${results_dir}/flink.tsv"
}

echo "Load: $(uptime)" >&2
for round in $(seq 1 "${rounds}"); do
    if [ $((round % 2)) -eq 1 ]; then
        run_incremental "${round}"
        run_flink "${round}"
    else
        run_flink "${round}"
        run_incremental "${round}"
    fi
    echo "Load after round ${round}: $(uptime)" >&2
done

touch "${results_dir}/incremental.tsv" "${results_dir}/flink.tsv"
"${java_bin}" -classpath "${incremental_classpath}" \
    io.statebackend.incremental.bench.CheckpointBenchmark \
    --report="${results_dir}/incremental.tsv,${results_dir}/flink.tsv"
