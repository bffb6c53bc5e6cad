package io.statebackend.incremental.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Short runs of the restore time driver with this backend, alone and wrapped in Flink's changelog
 * backend, one round each, then the report of their results. Nothing about time is checked; the
 * driver itself fails when a restored key has no value or another key's. Flink's RocksDB backend
 * runs in {@code plugin.RestoreTimeBenchmarkFlinkSmokeTest}, on Flink's class path.
 */
public class RestoreTimeBenchmarkSmokeTest {

    /** A small workload for {@code setups}; the driver's own options. */
    public static String[] smallRun(Path dir, Path out, String... setups) {
        final String[] common = {
            "--keys=2000",
            "--value-bytes=32",
            "--updates-per-second=400",
            "--update-seconds=3",
            "--rounds=1",
            "--managed-memory-mb=64",
            "--dir=" + dir,
            "--out=" + out
        };
        final String[] args = new String[common.length + setups.length];
        System.arraycopy(common, 0, args, 0, common.length);
        System.arraycopy(setups, 0, args, common.length, setups.length);
        return args;
    }

    /** Prints the report of the result files and returns it. */
    static String report(Path... results) throws Exception {
        final StringBuilder files = new StringBuilder();
        for (Path result : results) {
            files.append(files.length() == 0 ? "" : ",").append(result);
        }
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        RestoreTimeBenchmark.run(
                new String[] {"--report=" + files},
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        final String report = bytes.toString(StandardCharsets.UTF_8);
        System.out.print(report);
        return report;
    }

    @Test
    void runsThisBackendAloneAndWrappedAndReports(@TempDir Path dir) throws Exception {
        final Path out = dir.resolve("incremental.tsv");
        RestoreTimeBenchmark.main(
                smallRun(
                        dir.resolve("runs"),
                        out,
                        "--setup=incremental",
                        "--setup=incremental+changelog:1s"));
        assertThat(Files.readAllLines(out)).hasSize(2);

        // rounds, checkpoints, checkpointed and largest MB, then materialized MB (changelog only)
        assertThat(report(out))
                .containsPattern(
                        "\\| incremental \\| 1 \\| [1-9]\\d* \\| [\\d.]+ \\| [\\d.]+ \\| - \\|")
                .containsPattern(
                        "\\| incremental\\+changelog:1s \\| 1 \\| [1-9]\\d* \\| [\\d.]+ \\|"
                                + " [\\d.]+ \\| [\\d.]+ \\|");
        // every run's directory is deleted after it
        assertThat(dir.resolve("runs")).isEmptyDirectory();
    }
}
