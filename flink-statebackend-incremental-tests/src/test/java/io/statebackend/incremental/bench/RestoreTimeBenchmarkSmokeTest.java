package io.statebackend.incremental.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A short run of the restore time driver: this backend alone and wrapped in Flink's changelog
 * backend, one round each, then the report. Nothing about time is checked; the driver itself fails
 * when a restored key has no value or another key's.
 */
class RestoreTimeBenchmarkSmokeTest {

    @Test
    void runsBothSetupsAndReports(@TempDir Path dir) throws Exception {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        RestoreTimeBenchmark.run(
                new String[] {
                    "--keys=2000",
                    "--value-bytes=32",
                    "--updates-per-second=400",
                    "--update-seconds=3",
                    "--rounds=1",
                    "--managed-memory-mb=64",
                    "--setup=incremental",
                    "--setup=changelog:1s",
                    "--dir=" + dir
                },
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        final String report = bytes.toString(StandardCharsets.UTF_8);
        System.out.print(report);

        // rounds, checkpoints, checkpointed and largest MB, then materialized MB (changelog only)
        assertThat(report)
                .containsPattern(
                        "\\| incremental \\| 1 \\| [1-9]\\d* \\| [\\d.]+ \\| [\\d.]+ \\| - \\|")
                .containsPattern(
                        "\\| changelog:1s \\| 1 \\| [1-9]\\d* \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|");
        // every run's directory is deleted after it
        assertThat(dir).isEmptyDirectory();
    }
}
