#!/usr/bin/env bash
# What CI runs: makes sure a JDK 17, Maven, curl and jq are present, then runs the project's test
# command, the same one the README gives (mvn -B verify), and then the end-to-end test on a
# standalone cluster (tools/e2e/run.sh): once with checkpoints on the local disk, once on a local
# S3 server with two TaskManagers (E2E_STORAGE=s3). Both run; a failure of either fails CI.
set -euo pipefail

cd "$(dirname "$0")/../.."

start_all=$(date +%s)

phase() {
    echo
    echo "=== $* ($(date -u +%H:%M:%S) UTC)"
}

phase "toolchain"
need_install=()
if ! command -v javac >/dev/null 2>&1 || ! javac -version 2>&1 | grep -Eq 'javac (1[7-9]|[2-9][0-9])'; then
    need_install+=(openjdk-17-jdk-headless)
fi
if ! command -v mvn >/dev/null 2>&1; then
    need_install+=(maven)
fi
for tool in curl jq; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
        need_install+=("${tool}")
    fi
done
if [ "${#need_install[@]}" -gt 0 ]; then
    echo "installing: ${need_install[*]}"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${need_install[@]}"
fi
java -version 2>&1 | sed -n 1p
mvn -v 2>&1 | sed -n 1p

phase "mvn -B verify"
start_verify=$(date +%s)
status=0
mvn -B verify || status=$?
end_verify=$(date +%s)

e2e_status=skipped
s3_status=skipped
end_e2e=${end_verify}
if [ "${status}" -eq 0 ]; then
    phase "end-to-end test (tools/e2e/run.sh)"
    e2e_status=0
    bash tools/e2e/run.sh || e2e_status=$?
    end_e2e=$(date +%s)
    # the tarball built by the run above (or by mvn verify) is the one to test again
    phase "end-to-end test on a local S3 server (E2E_STORAGE=s3 tools/e2e/run.sh)"
    s3_status=0
    E2E_STORAGE=s3 E2E_SKIP_BUILD=true bash tools/e2e/run.sh || s3_status=$?
    if [ "${e2e_status}" -ne 0 ]; then
        status=${e2e_status}
    elif [ "${s3_status}" -ne 0 ]; then
        status=${s3_status}
    fi
fi
end=$(date +%s)

echo
echo "=== timings"
echo "mvn -B verify: $((end_verify - start_verify)) s"
echo "e2e (local):   $((end_e2e - end_verify)) s (exit ${e2e_status})"
echo "e2e (S3):      $((end - end_e2e)) s (exit ${s3_status})"
echo "total:         $((end - start_all)) s (exit ${status})"
exit "${status}"
