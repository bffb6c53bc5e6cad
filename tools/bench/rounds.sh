# Sourced by the benchmark scripts whose driver runs once per class path (this backend's and
# Flink's) and round. After setting the arrays default_setups and default_flink_setups (the
# driver's --setup arguments for either class path) and optionally java_heap, a script calls
#
#   run_rounds <driver main class> "$@"
#
# which reads --rounds=N (default 3), --setup=... (this backend's class path) and
# --flink-setup=... (Flink's) and passes every other argument to the driver; builds the class
# paths (classpaths.sh); runs the driver in every round once per setup, each in a JVM of its own
# (setups in one JVM would share the machine with each other's background compactions and
# uploads, which weighs on the throughput and durations of whichever setup runs beside the
# heaviest), the round deciding which setup goes first, each JVM appending its results to
# incremental.tsv or flink.tsv; and then prints the driver's --report over both. RESULTS_DIR keeps those files: each round's results are appended as
# the round ends, so an interrupted run keeps the rounds it finished (report them with the
# driver's --report=incremental.tsv,flink.tsv). The caller has changed into the project's root.

run_rounds() {
    local main_class="$1"
    shift
    local rounds=3
    local driver_args=()
    local setups=()
    local flink_setups=()
    local arg
    for arg in "$@"; do
        case "${arg}" in
            --rounds=*) rounds="${arg#--rounds=}" ;;
            --setup=*) setups+=("${arg}") ;;
            --flink-setup=*) flink_setups+=("--setup=${arg#--flink-setup=}") ;;
            *) driver_args+=("${arg}") ;;
        esac
    done
    if [ ${#setups[@]} -eq 0 ]; then
        setups=("${default_setups[@]}")
    fi
    if [ ${#flink_setups[@]} -eq 0 ]; then
        flink_setups=("${default_flink_setups[@]}")
    fi

    if [ -n "${RESULTS_DIR:-}" ]; then
        results_dir="${RESULTS_DIR}"
        mkdir -p "${results_dir}"
    else
        results_dir="$(mktemp -d)"
        trap 'rm -rf "${results_dir}"' EXIT
    fi

    # shellcheck source=tools/bench/classpaths.sh
    source tools/bench/classpaths.sh

    run_on() {
        "${java_bin}" "${java_options[@]}" -classpath "$1" "${main_class}" "${driver_args[@]}" \
            "${@:4}" --round="$2" --out="${results_dir}/$3.tsv"
    }

    # every setup with the class path it runs on, in the order of the arguments
    local runs=()
    local setup
    for setup in "${setups[@]}"; do
        runs+=("incremental ${setup}")
    done
    for setup in "${flink_setups[@]}"; do
        runs+=("flink ${setup}")
    done

    echo "Load: $(uptime)" >&2
    local round i run kind classpath
    for round in $(seq 1 "${rounds}"); do
        for i in $(seq 0 $((${#runs[@]} - 1))); do
            run="${runs[$(((i + round - 1) % ${#runs[@]}))]}"
            kind="${run%% *}"
            if [ "${kind}" = incremental ]; then
                classpath="${incremental_classpath}"
            else
                classpath="${flink_classpath}"
            fi
            run_on "${classpath}" "${round}" "${kind}" "${run#* }"
        done
        echo "Load after round ${round}: $(uptime)" >&2
    done

    touch "${results_dir}/incremental.tsv" "${results_dir}/flink.tsv"
    "${java_bin}" -classpath "${incremental_classpath}" "${main_class}" \
        --report="${results_dir}/incremental.tsv,${results_dir}/flink.tsv"
}
