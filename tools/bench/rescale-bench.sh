#!/usr/bin/env bash
# Builds the project and runs the restore and rescaling driver twice, once per backend in its own
# JVM (Flink's EmbeddedRocksDBStateBackend runs on FRocksDB, which shares the package org.rocksdb
# with the upstream RocksDB of this backend, so the two need separate class paths), then prints a
# Markdown table with the ratios. Durations depend on the machine; compare the ratios.
#
#   bash tools/bench/rescale-bench.sh [--keys=2000000] [--rounds=3] [--transfer-threads=4]
#       [--dir=PATH] [--keep=false]
#
# Extra Maven arguments (for example -o to build offline) go in MAVEN_EXTRA_ARGS; SKIP_BUILD=true
# reuses the class paths of an earlier build. The driver is
# io.statebackend.incremental.bench.RescaleBenchmark in flink-statebackend-incremental-tests.
# Nothing is installed into the local Maven repository.
set -euo pipefail

cd "$(dirname "$0")/../.."

results_dir="$(mktemp -d)"
trap 'rm -rf "${results_dir}"' EXIT

# shellcheck source=tools/bench/classpaths.sh
source tools/bench/classpaths.sh

echo "Load: $(uptime)" >&2
"${java_bin}" "${java_options[@]}" -classpath "${incremental_classpath}" \
    io.statebackend.incremental.bench.RescaleBenchmark --backend=incremental \
    --out="${results_dir}/incremental.tsv" "$@"
"${java_bin}" "${java_options[@]}" -classpath "${flink_classpath}" \
    io.statebackend.incremental.bench.RescaleBenchmark --backend=flink-rocksdb \
    --out="${results_dir}/flink-rocksdb.tsv" "$@"
echo "Load: $(uptime)" >&2

"${java_bin}" -classpath "${incremental_classpath}" \
    io.statebackend.incremental.bench.RescaleBenchmark \
    --report="${results_dir}/incremental.tsv,${results_dir}/flink-rocksdb.tsv"
