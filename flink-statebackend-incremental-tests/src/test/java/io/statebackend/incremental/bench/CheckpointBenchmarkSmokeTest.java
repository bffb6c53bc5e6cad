package io.statebackend.incremental.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A short run of the checkpoint cost driver on this backend's class path: setups of this backend
 * (with and without the compaction defaults, with a compaction variant, full checkpoints) and
 * Flink's heap backend, then the report. Nothing about time is checked; the driver itself checks
 * every key after the restore. Flink's RocksDB backend runs in {@code
 * plugin.CheckpointBenchmarkFlinkSmokeTest}, on Flink's class path.
 */
class CheckpointBenchmarkSmokeTest {

    /** A small workload; the driver's own options. */
    static String[] smallRun(Path dir, Path out, String... setups) {
        String[] common = {
            "--keys=3000",
            "--value-bytes=50",
            "--checkpoints=4",
            "--update-percent=5",
            "--read-percent=5",
            "--managed-memory-mb=16",
            "--warmup=false",
            "--dir=" + dir,
            "--out=" + out
        };
        String[] args = new String[common.length + setups.length];
        System.arraycopy(common, 0, args, 0, common.length);
        System.arraycopy(setups, 0, args, common.length, setups.length);
        return args;
    }

    /** Prints the report of the result files and returns it. */
    static String report(Path... results) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CheckpointReport.print(
                CheckpointReport.Results.read(Arrays.asList(results)),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void runsEverySetupOfThisClassPathAndReports(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("results.tsv");
        CheckpointBenchmark.main(
                smallRun(
                        dir.resolve("run"),
                        out,
                        "--setup=default:incremental",
                        "--setup=classic:incremental:state.backend.incremental-rocksdb.compaction"
                                + ".tuned-for-incremental-checkpoints=false",
                        "--setup=universal:incremental:style=universal;l0=8;ratio=10",
                        "--setup=ahead:incremental:state.backend.incremental-rocksdb.checkpoint"
                                + ".upload-ahead=true",
                        "--setup=full:full",
                        "--setup=heap:heap",
                        "--interval-ms=20"));

        List<String> lines = Files.readAllLines(out);
        assertThat(lines.stream().filter(line -> line.startsWith("checkpoint\t"))).hasSize(6 * 4);
        assertThat(lines.stream().filter(line -> line.startsWith("run\t"))).hasSize(6);
        // the setup that uploads ahead of checkpoints reports what it uploaded and discarded
        assertThat(lines.stream().filter(line -> line.startsWith("ahead\tahead\t"))).hasSize(1);
        assertThat(lines.stream().filter(line -> line.startsWith("ahead\t"))).hasSize(1);

        String report = report(out);
        assertThat(report)
                .contains("| default | 1 |")
                .contains("| classic | 1 |")
                .contains("| universal | 1 |")
                .contains("| ahead | 1 |")
                .contains("| full | 1 |")
                .contains("| heap | 1 |")
                .contains("uploaded / changed");
    }
}
