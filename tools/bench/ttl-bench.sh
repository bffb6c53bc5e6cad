#!/usr/bin/env bash
# Builds the project and runs the TTL cleanup driver: keys written once with a short TTL, then
# other keys written with incremental checkpoints, for no TTL, TTL without cleanup, incremental
# cleanup and background cleanup, side by side in one JVM. Prints Markdown tables: expired entries
# left in RocksDB and live SST bytes after every round, and throughput ratios.
#
#   bash tools/bench/ttl-bench.sh [--keys=1000000] [--working-set=500000] [--round=500000]
#       [--rounds=8] [--value-bytes=16] [--dir=PATH]
#
# Extra Maven arguments (for example -o to build offline) go in MAVEN_EXTRA_ARGS. The driver is
# io.statebackend.incremental.bench.TtlCleanupBenchmark in flink-statebackend-incremental-tests.
# Nothing is installed into the local Maven repository: the two modules are built in one reactor.
set -euo pipefail

cd "$(dirname "$0")/../.."

tests_module=flink-statebackend-incremental-tests
classpath_file="${PWD}/${tests_module}/target/bench.classpath"

echo "Building (mvn package -DskipTests) ..." >&2
# shellcheck disable=SC2086
# (Maven's output goes to stderr, so that stdout holds only the driver's tables)
mvn -B -q -Dstyle.color=never ${MAVEN_EXTRA_ARGS:-} package dependency:build-classpath \
    -pl "${tests_module}" -am -DskipTests -Dspotless.skip \
    -DincludeScope=runtime -Dmdep.outputFile="${classpath_file}" >&2

java_bin=java
if [ -n "${JAVA_HOME:-}" ]; then
    java_bin="${JAVA_HOME}/bin/java"
fi

exec "${java_bin}" -Xms1g -Xmx1g \
    --add-opens=java.base/java.util=ALL-UNNAMED \
    --add-opens=java.base/java.lang=ALL-UNNAMED \
    --add-opens=java.base/java.io=ALL-UNNAMED \
    --add-opens=java.base/java.nio=ALL-UNNAMED \
    --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
    -classpath "${tests_module}/target/classes:$(cat "${classpath_file}")" \
    io.statebackend.incremental.bench.TtlCleanupBenchmark "$@"
