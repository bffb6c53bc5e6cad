#!/usr/bin/env bash
# Builds the project and runs the demo job: a small stateful job on an embedded Flink MiniCluster
# that uses the incremental RocksDB backend and prints one row per completed checkpoint.
#
#   bash tools/demo.sh
#
# The same run without this script: mvn -B install -DskipTests, then
# mvn -B -q -pl flink-statebackend-incremental-tests exec:exec
set -euo pipefail

cd "$(dirname "$0")/.."

tests_module=flink-statebackend-incremental-tests
classpath_file="${PWD}/${tests_module}/target/demo.classpath"

echo "Building the project (mvn install -DskipTests) ..."
mvn -B -q install -DskipTests -Dspotless.skip
mvn -B -q -pl "${tests_module}" dependency:build-classpath \
    -DincludeScope=runtime -Dmdep.outputFile="${classpath_file}"
echo

java_bin=java
if [ -n "${JAVA_HOME:-}" ]; then
    java_bin="${JAVA_HOME}/bin/java"
fi

exec "${java_bin}" -Xmx1g \
    --add-opens=java.base/java.util=ALL-UNNAMED \
    --add-opens=java.base/java.lang=ALL-UNNAMED \
    --add-opens=java.base/java.io=ALL-UNNAMED \
    --add-opens=java.base/java.nio=ALL-UNNAMED \
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens=java.base/java.net=ALL-UNNAMED \
    -classpath "${tests_module}/target/classes:$(cat "${classpath_file}")" \
    io.statebackend.incremental.demo.DemoJob
