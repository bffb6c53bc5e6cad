# Sourced by the benchmark scripts that run a driver on both class paths: builds the project
# (unless SKIP_BUILD=true, which reuses the class paths of an earlier build) and sets
#   incremental_classpath  the tests module's runtime class path: this backend, upstream RocksDB
#   flink_classpath        its test class path without this backend and without upstream RocksDB:
#                          Flink's RocksDB backend on FRocksDB, which shares the package org.rocksdb
#                          with upstream RocksDB, so the two need separate JVMs
#   java_bin, java_options (heap from java_heap, default 1g)
# Extra Maven arguments (for example -o to build offline) go in MAVEN_EXTRA_ARGS. Nothing is
# installed into the local Maven repository: the modules are built in one reactor. The caller has
# changed into the project's root directory.

tests_module=flink-statebackend-incremental-tests
runtime_classpath="${PWD}/${tests_module}/target/bench.classpath"
test_classpath="${PWD}/${tests_module}/target/bench-test.classpath"

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

# the entries of the class path file $1 without this backend and without upstream RocksDB
without_this_backend() {
    tr ':' '\n' < "$1" \
        | grep -v -E '/flink-statebackend-incremental/target/|/flink-statebackend-incremental-[0-9][^/]*\.jar$|/rocksdbjni-[^/]*\.jar$|\.tar\.gz$' \
        | paste -sd ':' -
}

incremental_classpath="${tests_module}/target/classes:$(cat "${runtime_classpath}")"
flink_classpath="${tests_module}/target/classes:$(without_this_backend "${test_classpath}")"

java_bin=java
if [ -n "${JAVA_HOME:-}" ]; then
    java_bin="${JAVA_HOME}/bin/java"
fi
java_options=("-Xms${java_heap:-1g}" "-Xmx${java_heap:-1g}"
    --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.lang=ALL-UNNAMED
    --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED
    --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens=java.base/java.util.concurrent=ALL-UNNAMED)
