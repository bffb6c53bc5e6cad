package io.statebackend.incremental.plugin;

import io.statebackend.incremental.bench.CheckpointBenchmark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A short run of the checkpoint cost driver with Flink's {@code EmbeddedRocksDBStateBackend}, on
 * the class path with FRocksDB and without this backend, as {@code tools/bench/checkpoint-bench.sh}
 * runs it; then the report of its results. Nothing about time is checked.
 */
class CheckpointBenchmarkFlinkSmokeTest {

    @Test
    void runsFlinksRocksDBBackendAndReports(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("flink.tsv");
        CheckpointBenchmark.main(
                new String[] {
                    "--keys=3000",
                    "--value-bytes=50",
                    "--checkpoints=4",
                    "--update-percent=5",
                    "--managed-memory-mb=16",
                    "--warmup=false",
                    "--dir=" + dir.resolve("run"),
                    "--out=" + out,
                    "--setup=flink-rocksdb:flink-rocksdb"
                });
        List<String> lines = Files.readAllLines(out);
        assertThat(lines.stream().filter(line -> line.startsWith("checkpoint\tflink-rocksdb\t")))
                .hasSize(4);
        assertThat(lines.stream().filter(line -> line.startsWith("run\tflink-rocksdb\t")))
                .hasSize(1);
        CheckpointBenchmark.main(new String[] {"--report=" + out});
    }
}
