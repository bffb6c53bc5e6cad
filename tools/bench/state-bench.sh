#!/usr/bin/env bash
# Builds the project and runs the per-record state benchmarks (JMH, io.statebackend.incremental.
# bench.jmh in flink-statebackend-incremental-tests) for this backend, Flink's
# EmbeddedRocksDBStateBackend and the HashMapStateBackend, round after round, then prints a
# Markdown table of ops/ms and ratios. Flink's backend runs on FRocksDB, which shares the package
# org.rocksdb with the upstream RocksDB of this backend, so each backend runs from its own class
# path (as in rescale-bench.sh); JMH forks a JVM per benchmark from that class path.
#
#   bash tools/bench/state-bench.sh [--rounds=3] [--short] [--only=REGEX] [--keys=200000]
#       [--warmup=2] [--iterations=3] [--time=1s] [--backends=incremental,rocksdb,hashmap]
#       [--before-jar=PATH]
#
# --before-jar adds a fourth run per round: this backend from the given jar (an earlier build of
# flink-statebackend-incremental), to show what a change did; the table gets a column for it.
# --short is a quick check that everything runs (one round, one short iteration); its figures are
# not worth comparing. Extra Maven arguments (for example -o to build offline) go in
# MAVEN_EXTRA_ARGS; SKIP_BUILD=true reuses the class paths of an earlier build; RESULTS_DIR keeps
# the CSV files of JMH. Nothing is installed into the local Maven repository. On a shared machine
# run it under a lock that other measurements take too, e.g. flock /work/bench.lock bash ...
set -euo pipefail

cd "$(dirname "$0")/../.."

rounds=3
warmup=2
iterations=3
time=1s
keys=200000
only='io.statebackend.incremental.bench.jmh.*Benchmark'
backends=incremental,rocksdb,hashmap
before_jar=
for arg in "$@"; do
    case "${arg}" in
        --rounds=*) rounds="${arg#*=}" ;;
        --warmup=*) warmup="${arg#*=}" ;;
        --iterations=*) iterations="${arg#*=}" ;;
        --time=*) time="${arg#*=}" ;;
        --keys=*) keys="${arg#*=}" ;;
        --only=*) only="${arg#*=}" ;;
        --backends=*) backends="${arg#*=}" ;;
        --before-jar=*) before_jar="${arg#*=}" ;;
        --short) rounds=1; warmup=1; iterations=1; time=500ms ;;
        *) echo "Unknown option ${arg}" >&2; exit 2 ;;
    esac
done

if [ -n "${RESULTS_DIR:-}" ]; then
    results_dir="${RESULTS_DIR}"
    mkdir -p "${results_dir}"
else
    results_dir="$(mktemp -d)"
fi

# shellcheck source=tools/bench/classpaths.sh
source tools/bench/classpaths.sh

# a copy of the project's classes and jar, so that a build during the run does not change them
snapshot_dir="$(mktemp -d)"
trap 'rm -rf "${snapshot_dir}"; [ -n "${RESULTS_DIR:-}" ] || rm -rf "${results_dir}"' EXIT
cp -r "${tests_module}/target/classes" "${snapshot_dir}/classes"
backend_jar="$(tr ':' '\n' < "${runtime_classpath}" | grep '/flink-statebackend-incremental/target/' || true)"
if [ -n "${backend_jar}" ]; then
    cp "${backend_jar}" "${snapshot_dir}/"
    sed "s|${backend_jar}|${snapshot_dir}/$(basename "${backend_jar}")|" "${runtime_classpath}" \
        > "${snapshot_dir}/runtime.classpath"
else
    cp "${runtime_classpath}" "${snapshot_dir}/runtime.classpath"
fi

# this backend and the hashmap backend: the runtime class path, upstream RocksDB and no FRocksDB
incremental_classpath="${snapshot_dir}/classes:$(cat "${snapshot_dir}/runtime.classpath")"
# Flink's backend: the test class path without this backend and without upstream RocksDB
flink_classpath="${snapshot_dir}/classes:$(without_this_backend "${test_classpath}")"

# the heap is touched before the measurement: a short fork would otherwise spend a fifth of its
# time in the kernel's first-touch page faults of the young generation (a long-running TaskManager
# pays them once), and a backend that allocates more would pay more of them
fork_options="-Xms2g -Xmx2g -XX:+AlwaysPreTouch --add-opens=java.base/java.util=ALL-UNNAMED"
fork_options+=" --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED"
fork_options+=" --add-opens=java.base/java.nio=ALL-UNNAMED"

if [ -n "${before_jar}" ]; then
    cp "${before_jar}" "${snapshot_dir}/before.jar"
    before_classpath="${snapshot_dir}/classes:${snapshot_dir}/before.jar:$(tr ':' '\n' \
        < "${snapshot_dir}/runtime.classpath" | grep -v '/flink-statebackend-incremental-[0-9][^/]*\.jar$' \
        | paste -sd ':' -)"
    backends="${backends},before"
fi

# a label per run: the backend, or "before" for this backend from --before-jar
run_backend() {
    local round="$1" label="$2" backend="$2" classpath
    case "${label}" in
        rocksdb) classpath="${flink_classpath}" ;;
        before) classpath="${before_classpath}"; backend=incremental ;;
        *) classpath="${incremental_classpath}" ;;
    esac
    echo "Round ${round}, ${label}: $(uptime)" | tee -a "${results_dir}/load.txt" >&2
    "${java_bin}" -Xmx256m -classpath "${classpath}" org.openjdk.jmh.Main "${only}" \
        -p backend="${backend}" -p keyCount="${keys}" \
        -f 1 -wi "${warmup}" -w "${time}" -i "${iterations}" -r "${time}" \
        -jvmArgsAppend "${fork_options}" \
        -rf csv -rff "${results_dir}/round${round}-${label}.csv" >"${results_dir}/round${round}-${label}.log" 2>&1 \
        || { tail -50 "${results_dir}/round${round}-${label}.log" >&2; exit 1; }
}

IFS=',' read -r -a backend_list <<< "${backends}"
for ((round = 1; round <= rounds; round++)); do
    for label in "${backend_list[@]}"; do
        run_backend "${round}" "${label}"
    done
done
echo "Load after: $(uptime)" | tee -a "${results_dir}/load.txt" >&2

"${java_bin}" -classpath "${incremental_classpath}" \
    io.statebackend.incremental.bench.jmh.StateBenchReport "${results_dir}"
echo
echo "${rounds} round(s), each backend in turn; JMH: 1 fork, ${warmup} warmup and" \
    "${iterations} measured iterations of ${time} per benchmark; ${keys} keys; 256 MiB managed memory."
echo "Load (uptime) before each backend's run:"
sed 's/^/    /' "${results_dir}/load.txt"
