#!/usr/bin/env bash
# Builds the project and runs the list state read driver: ListState#get() of lists whose elements
# were each added by their own add(), with no merge of the operands in between, for several list
# lengths. Prints a Markdown table. Durations depend on the machine; compare the growth with the
# length.
#
#   bash tools/bench/list-get-bench.sh [--lengths=10,100,1000] [--keys=200] [--rounds=5]
#
# Extra Maven arguments (for example -o) go in MAVEN_EXTRA_ARGS; see run-driver.sh. The driver is
# io.statebackend.incremental.bench.ListGetBenchmark in flink-statebackend-incremental-tests.
set -euo pipefail

exec bash "$(dirname "$0")/run-driver.sh" 1g io.statebackend.incremental.bench.ListGetBenchmark "$@"
