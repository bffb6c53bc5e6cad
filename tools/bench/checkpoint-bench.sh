#!/usr/bin/env bash
# Builds the project and runs the checkpoint benchmark driver: the same workload checkpointed by
# this backend with incremental checkpoints, by this backend with full (canonical) checkpoints and
# by Flink's HashMapStateBackend, side by side in one JVM. Prints Markdown tables: one row per
# checkpoint and a summary of ratios. Durations depend on the machine; compare the ratios.
#
#   bash tools/bench/checkpoint-bench.sh [--keys=200000] [--value-bytes=100] [--checkpoints=10]
#       [--update-percent=1] [--insert-percent=0.5] [--transfer-threads=4]
#       [--managed-memory-mb=128] [--seed=42] [--dir=PATH] [--warmup=true] [--keep=false]
#
# Extra Maven arguments (for example -o to build offline) go in MAVEN_EXTRA_ARGS. The driver is
# io.statebackend.incremental.bench.CheckpointBenchmark in flink-statebackend-incremental-tests.
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
    io.statebackend.incremental.bench.CheckpointBenchmark "$@"
