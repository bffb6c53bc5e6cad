#!/usr/bin/env bash
# Builds the project and runs the list state read driver: ListState#get() of lists whose elements
# were each added by their own add(), with no merge of the operands in between, for several list
# lengths. Prints a Markdown table. Durations depend on the machine; compare the growth with the
# length.
#
#   bash tools/bench/list-get-bench.sh [--lengths=10,100,1000] [--keys=200] [--rounds=5]
#
# Extra Maven arguments (for example -o to build offline) go in MAVEN_EXTRA_ARGS. The driver is
# io.statebackend.incremental.bench.ListGetBenchmark in flink-statebackend-incremental-tests.
# Nothing is installed into the local Maven repository: the two modules are built in one reactor.
set -euo pipefail

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

exec "${java_bin}" -Xms1g -Xmx1g \
    --add-opens=java.base/java.util=ALL-UNNAMED \
    --add-opens=java.base/java.lang=ALL-UNNAMED \
    -classpath "${tests_module}/target/classes:$(cat "${classpath_file}")" \
    io.statebackend.incremental.bench.ListGetBenchmark "$@"
