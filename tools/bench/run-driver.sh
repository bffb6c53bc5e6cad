#!/usr/bin/env bash
# Builds the project and runs one driver of flink-statebackend-incremental-tests on its runtime
# class path (this backend and upstream RocksDB; no FRocksDB). The drivers' scripts call it:
#
#   bash tools/bench/run-driver.sh <heap, for example 1g> <main class> [driver arguments]...
#
# Extra Maven arguments (for example -o to build offline) go in MAVEN_EXTRA_ARGS. Maven's output
# goes to stderr, so that stdout holds only the driver's. Nothing is installed into the local Maven
# repository: the two modules are built in one reactor.
set -euo pipefail

heap="$1"
main_class="$2"
shift 2

cd "$(dirname "$0")/../.."

tests_module=flink-statebackend-incremental-tests
classpath_file="${PWD}/${tests_module}/target/bench.classpath"

echo "Building (mvn package -DskipTests) ..." >&2
# shellcheck disable=SC2086
mvn -B -q -Dstyle.color=never ${MAVEN_EXTRA_ARGS:-} package dependency:build-classpath \
    -pl "${tests_module}" -am -DskipTests -Dspotless.skip \
    -DincludeScope=runtime -Dmdep.outputFile="${classpath_file}" >&2

java_bin=java
if [ -n "${JAVA_HOME:-}" ]; then
    java_bin="${JAVA_HOME}/bin/java"
fi

exec "${java_bin}" "-Xms${heap}" "-Xmx${heap}" \
    --add-opens=java.base/java.util=ALL-UNNAMED \
    --add-opens=java.base/java.lang=ALL-UNNAMED \
    --add-opens=java.base/java.io=ALL-UNNAMED \
    --add-opens=java.base/java.nio=ALL-UNNAMED \
    --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
    -classpath "${tests_module}/target/classes:$(cat "${classpath_file}")" \
    "${main_class}" "$@"
