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

tests_module=flink-statebackend-incremental-tests
runtime_classpath="${PWD}/${tests_module}/target/bench.classpath"
test_classpath="${PWD}/${tests_module}/target/bench-test.classpath"
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

if [ "${SKIP_BUILD:-false}" != "true" ]; then
    echo "Building (mvn package -DskipTests) ..." >&2
    # shellcheck disable=SC2086
    mvn -B -q -Dstyle.color=never ${MAVEN_EXTRA_ARGS:-} package dependency:build-classpath \
        -pl "${tests_module}" -am -DskipTests -Dspotless.skip \
        -DincludeScope=runtime -Dmdep.outputFile="${runtime_classpath}" >&2
    # the test class path in the same reactor (the backend is not installed anywhere); packaging
    # again is incremental
    # shellcheck disable=SC2086
    mvn -B -q -Dstyle.color=never ${MAVEN_EXTRA_ARGS:-} package dependency:build-classpath \
        -pl "${tests_module}" -am -DskipTests -Dspotless.skip \
        -DincludeScope=test -Dmdep.outputFile="${test_classpath}" >&2
fi

# this backend: the runtime class path, which has upstream RocksDB and no FRocksDB
incremental_classpath="${tests_module}/target/classes:$(cat "${runtime_classpath}")"
# Flink's backend: the test class path without this backend and without upstream RocksDB
flink_classpath="${tests_module}/target/classes:$(tr ':' '\n' < "${test_classpath}" \
    | grep -v -E '/flink-statebackend-incremental/target/|/flink-statebackend-incremental-[0-9][^/]*\.jar$|/rocksdbjni-[^/]*\.jar$|\.tar\.gz$' \
    | paste -sd ':' -)"

java_bin=java
if [ -n "${JAVA_HOME:-}" ]; then
    java_bin="${JAVA_HOME}/bin/java"
fi
java_options=(-Xms1g -Xmx2g
    --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.lang=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED)

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
