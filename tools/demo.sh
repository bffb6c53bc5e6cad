#!/usr/bin/env bash
# Builds the project and runs the demo job: a stateful job on an embedded Flink MiniCluster that
# uses the incremental RocksDB backend, with tens of MB of keyed state of which a few percent change
# between two checkpoints, and prints one row per completed checkpoint.
#
#   bash tools/demo.sh                 about a minute: 20 checkpoints, then a summary
#   bash tools/demo.sh --web-ui        also serves Flink's web UI on http://localhost:8081 and
#                                      keeps running until Ctrl-C (--web-ui=PORT for another port)
#   bash tools/demo.sh --help          the other options (keys, update rate, checkpoints)
#
# The build stays in the work tree (target/): nothing is installed into the local Maven repository.
set -euo pipefail

cd "$(dirname "$0")/.."

tests_module=flink-statebackend-incremental-tests
classpath_file="${PWD}/${tests_module}/target/demo.classpath"

echo "Building the project (mvn package -DskipTests) ..."
# the demo's module and the backend it depends on, in one reactor; the class path file written last
# is the demo module's
mvn -B -q package dependency:build-classpath -DskipTests -Dspotless.skip \
    -pl "${tests_module}" -am -DincludeScope=runtime -Dmdep.outputFile="${classpath_file}"
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
    io.statebackend.incremental.demo.DemoJob "$@"
