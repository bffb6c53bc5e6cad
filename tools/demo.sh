#!/usr/bin/env bash
# Builds the project and runs the demo job: a small stateful job on an embedded Flink MiniCluster
# that uses the incremental RocksDB backend and prints one row per completed checkpoint.
#
#   bash tools/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."

echo "Building (mvn install -DskipTests) ..."
mvn -B -q install -DskipTests -Dspotless.skip

mvn -B -q -pl flink-statebackend-incremental-tests exec:exec
