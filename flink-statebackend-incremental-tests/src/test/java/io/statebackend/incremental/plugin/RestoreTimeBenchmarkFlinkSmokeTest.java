package io.statebackend.incremental.plugin;

import io.statebackend.incremental.bench.RestoreTimeBenchmark;
import io.statebackend.incremental.bench.RestoreTimeBenchmarkSmokeTest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A short run of the restore time driver with Flink's {@code EmbeddedRocksDBStateBackend}, alone
 * and wrapped in Flink's changelog backend, on the class path with FRocksDB and without this
 * backend, as {@code tools/bench/restore-time-bench.sh} runs it; then the report of its results.
 * Nothing about time is checked; the driver fails when a restored key has no value or another's.
 */
class RestoreTimeBenchmarkFlinkSmokeTest {

    @Test
    void runsFlinksRocksDBBackendAloneAndWrappedAndReports(@TempDir Path dir) throws Exception {
        final Path out = dir.resolve("flink.tsv");
        RestoreTimeBenchmark.main(
                RestoreTimeBenchmarkSmokeTest.smallRun(
                        dir.resolve("runs"),
                        out,
                        "--setup=flink-rocksdb",
                        "--setup=flink-rocksdb+changelog:1s"));
        final List<String> lines = Files.readAllLines(out);
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("flink-rocksdb\t1\t");
        assertThat(lines.get(1)).startsWith("flink-rocksdb+changelog:1s\t1\t");
        RestoreTimeBenchmark.main(new String[] {"--report=" + out});
    }
}
