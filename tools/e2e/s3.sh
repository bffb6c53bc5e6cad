# The S3 side of the end-to-end test, sourced by run.sh when E2E_STORAGE=s3: an S3-compatible
# server (S3Proxy, a Java server from Maven Central, keeping objects in memory) on the loopback
# interface, Flink's S3 file system plugin (flink-s3-fs-hadoop) in plugins/s3-fs-hadoop/ as a user
# installs it, and the throughput figures: what checkpoints uploaded per second of their
# asynchronous phase against plain PUTs to the same server.
#
# Uses run.sh's helpers (maven, free_port, wait_until, rest_get, human_bytes, log, pass, fail,
# abort) and variables (WORK, E2E_DIR, FLINK_HOME, LOG_DIR, started_pids).

S3PROXY_VERSION="${E2E_S3PROXY_VERSION:-2.6.0}"
# the newest flink-s3-fs-hadoop of the 1.20 line that Maven Central serves here (it has 1.20.0 and
# 1.20.1); the plugin runs isolated in its own class loader against the cluster's 1.20.x API
S3_FS_VERSION="${E2E_S3_FS_VERSION:-1.20.1}"
S3_BUCKET=e2e
S3_ACCESS_KEY=e2e-access
S3_SECRET_KEY=e2e-secret
# size of the object of the raw PUT measurement, and number of small (64 KiB) objects
S3_PUT_MB="${E2E_S3_PUT_MB:-32}"
S3_SMALL_PUTS=32
s3_port=""
s3_pid=""
s3_put_large=""
s3_put_small=""

# s3_request <path and query> [curl options...]: an S3 request signed with AWS signature v4
s3_request() {
    local path="$1"
    shift
    curl -sS -f --max-time 60 --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "${S3_ACCESS_KEY}:${S3_SECRET_KEY}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "$@" "http://127.0.0.1:${s3_port}${path}"
}

# resolves S3Proxy and Flink's S3 file system plugin from Maven Central
s3_install() {
    log "resolving S3Proxy ${S3PROXY_VERSION} and flink-s3-fs-hadoop ${S3_FS_VERSION}"
    local copy=org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy
    maven -f "${E2E_DIR}/flink/pom.xml" "${copy}" \
        -Dartifact="org.apache.flink:flink-s3-fs-hadoop:${S3_FS_VERSION}" \
        -DoutputDirectory="${FLINK_HOME}/plugins/s3-fs-hadoop" ||
        abort "resolving flink-s3-fs-hadoop ${S3_FS_VERSION} from Maven Central failed"
    maven -f "${E2E_DIR}/flink/pom.xml" "${copy}" \
        -Dartifact="org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies" \
        -DoutputDirectory="${WORK}/s3proxy" ||
        abort "resolving S3Proxy ${S3PROXY_VERSION} from Maven Central failed"
}

bucket_created() {
    s3_request "/${S3_BUCKET}" -X PUT -o /dev/null 2>/dev/null
}

# starts S3Proxy on 127.0.0.1 and creates the bucket. Its store is jclouds' in-memory blob store, a
# flat key space as in S3: its file system stores map keys to directories and refuse to delete
# a "directory" object (the markers that Hadoop's S3A deletes after writing a file) that has files
# below it.
s3_start_server() {
    s3_port="$(free_port)"
    cat >"${WORK}/s3proxy.properties" <<EOF
s3proxy.endpoint=http://127.0.0.1:${s3_port}
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=${S3_ACCESS_KEY}
s3proxy.credential=${S3_SECRET_KEY}
jclouds.provider=transient
jclouds.identity=${S3_ACCESS_KEY}
jclouds.credential=${S3_SECRET_KEY}
EOF
    (
        exec java -Xmx1g -jar "${WORK}/s3proxy/s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar" \
            --properties "${WORK}/s3proxy.properties" >"${LOG_DIR}/s3proxy.log" 2>&1 </dev/null
    ) &
    s3_pid=$!
    started_pids+=("${s3_pid}")
    wait_until 60 "the S3 server" bucket_created ||
        abort "the S3 server did not come up on 127.0.0.1:${s3_port}: $(tail -n 5 "${LOG_DIR}/s3proxy.log")"
    pass "S3 server up: S3Proxy ${S3PROXY_VERSION} (pid ${s3_pid}) on 127.0.0.1:${s3_port}, bucket s3://${S3_BUCKET}"
}

# the lines config.yaml needs for Flink's S3 file system to reach the server, and the S3 run's own
s3_flink_config() {
    cat <<EOF
s3.endpoint: http://127.0.0.1:${s3_port}
s3.path.style.access: true
s3.connection.ssl.enabled: false
s3.access-key: ${S3_ACCESS_KEY}
s3.secret-key: ${S3_SECRET_KEY}
s3.buffer.dir: ${WORK}/tmp/s3a
# every file of a checkpoint an object on the server: by default files below 20 KB, most of this
# small job's RocksDB files, go into _metadata instead
state.storage.fs.memory-threshold: 1kb
EOF
}

# MiB/s of one line of "bytes seconds" pairs, summed
mib_per_s() {
    awk '{ b += $1; t += $2 } END { if (t > 0) printf "%.1f", b / t / 1048576; else print "n/a" }'
}

# measures the server's raw PUT throughput with curl: 3 PUTs of S3_PUT_MB MiB, and S3_SMALL_PUTS
# PUTs of 64 KiB over one connection (the size class of a checkpoint's files here)
s3_measure_put() {
    local large="${WORK}/put-probe-large" small="${WORK}/put-probe-small" i
    head -c $((S3_PUT_MB * 1048576)) /dev/urandom >"${large}"
    head -c 65536 /dev/urandom >"${small}"
    s3_put_large="$(for i in 1 2 3; do
        s3_request "/${S3_BUCKET}/put-probe/large-${i}" -T "${large}" -o /dev/null \
            -w '%{size_upload} %{time_total}\n' || echo "0 0"
    done | mib_per_s)"
    local -a small_args=()
    for i in $(seq 1 "${S3_SMALL_PUTS}"); do
        small_args+=(-T "${small}" "http://127.0.0.1:${s3_port}/${S3_BUCKET}/put-probe/small-${i}")
    done
    # one curl process for all, so that the figure is the server's, not curl's start-up
    s3_put_small="$(curl -sS -f --max-time 120 --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "${S3_ACCESS_KEY}:${S3_SECRET_KEY}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -o /dev/null -w '%{size_upload} %{time_total}\n' "${small_args[@]}" | mib_per_s)" ||
        s3_put_small="failed"
    rm -f "${large}" "${small}"
    # the server keeps objects in memory
    for i in 1 2 3; do
        s3_request "/${S3_BUCKET}/put-probe/large-${i}" -X DELETE -o /dev/null || true
    done
}

# the objects under a prefix of the bucket, listed through the S3 API (one page, up to 1000
# objects): "<count> <bytes>"
s3_list() {
    # the signature covers the query as the server decodes it: '/' must be sent encoded
    s3_request "/${S3_BUCKET}?list-type=2&prefix=${1//\//%2F}" |
        grep -o '<Size>[0-9]*</Size>' | tr -dc '0-9\n' |
        awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }'
}

# checks that the job's checkpoints are objects on the S3 server
s3_check_checkpoints_stored() {
    local job="$1" latest="$2" listed count bytes
    listed="$(s3_list "checkpoints/${job}/shared/")" || listed="0 0"
    read -r count bytes <<<"${listed}"
    if [[ "${latest}" == "s3://${S3_BUCKET}/checkpoints/${job}/chk-"* ]] && [ "${count}" -gt 0 ]; then
        pass "checkpoints are on the S3 server: ${latest}; ${count} objects ($(human_bytes "${bytes}")) under shared/ listed through the S3 API"
    else
        fail "checkpoints on the S3 server: latest is ${latest}, ${count} objects under s3://${S3_BUCKET}/checkpoints/${job}/shared/"
    fi
}

# prints the keyed vertex's checkpointed bytes per second of the checkpoints' asynchronous phase (in
# which the backend uploads its files; per subtask, from the REST checkpoint statistics) next to the
# server's raw PUT throughput
s3_print_throughput() {
    local job="$1" vertex="$2" ids id rows="" row
    ids="$(checkpoints_json "${job}" | jq -r '.history[] | select(.status == "COMPLETED"
        and (.is_savepoint | not)) | .id' | sort -n)"
    echo "    upload throughput of the keyed operator's checkpoints (checkpointed bytes / asynchronous duration, summed over subtasks):"
    printf '    %10s  %8s  %12s  %10s  %10s\n' checkpoint subtasks uploaded "async sum" throughput
    for id in ${ids}; do
        row="$(rest_get "/jobs/${job}/checkpoints/details/${id}/subtasks/${vertex}" | jq -r '
            [.subtasks[] | select(.status == "completed")]
            | "\(length) \(map(.checkpointed_size) | add) \(map(.checkpoint.async) | add)"')" ||
            continue
        rows="${rows}${row}"$'\n'
        echo "${id} ${row}" | awk '{ printf "    %10s  %8s  %12s  %7d ms  %s\n", $1, $2,
            sprintf("%.1f KiB", $3 / 1024), $4,
            ($4 > 0 ? sprintf("%.1f MiB/s", $3 / 1048576 / ($4 / 1000)) : "n/a") }'
    done
    local total
    total="$(echo -n "${rows}" | awk '{ b += $2; t += $3 } END {
        if (t > 0) printf "%.1f MiB in %.1f s of asynchronous phases: %.2f MiB/s", b / 1048576, t / 1000, b / 1048576 / (t / 1000)
        else print "n/a" }')"
    echo "    checkpoints, all subtasks:        ${total}"
    echo "    raw PUT, ${S3_PUT_MB} MiB objects (curl):   ${s3_put_large} MiB/s"
    echo "    raw PUT, 64 KiB objects (curl):   ${s3_put_small} MiB/s (${S3_SMALL_PUTS} objects, one connection)"
    echo "    load average during the run: $(uptime | sed 's/.*load average: //')"
}
