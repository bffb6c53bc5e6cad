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

tests_module=flink-statebackend-incremental-tests
runtime_classpath="${PWD}/${tests_module}/target/bench.classpath"
test_classpath="${PWD}/${tests_module}/target/bench-test.classpath"
results_dir="$(mktemp -d)"
trap 'rm -rf "${results_dir}"' EXIT

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
java_options=(-Xms1g -Xmx1g
    --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.lang=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED)

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
