package io.statebackend.incremental.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.DoubleStream;

/**
 * The results of {@link RestoreTimeBenchmark}: one tab-separated line per run, appended by each JVM
 * (one per class path), and the Markdown table over all of them.
 */
final class RestoreTimeReport {

    /** The setup that the restore times are compared with. */
    static final String BASELINE = "incremental";

    private RestoreTimeReport() {}

    /** What one run of one setup measured; bytes per checkpoint after the load. */
    static final class Result {
        final String setup;
        final int round;
        final long checkpoints;
        final double meanCheckpointedBytes;
        final long maxCheckpointedBytes;

        /** Uploads of the changelog backend's materializations; -1 without the changelog. */
        final double materializedBytes;

        final double changedBytes;
        final long stateBytes;
        final long restoreMillis;

        Result(
                String setup,
                int round,
                long checkpoints,
                double meanCheckpointedBytes,
                long maxCheckpointedBytes,
                double materializedBytes,
                double changedBytes,
                long stateBytes,
                long restoreMillis) {
            this.setup = setup;
            this.round = round;
            this.checkpoints = checkpoints;
            this.meanCheckpointedBytes = meanCheckpointedBytes;
            this.maxCheckpointedBytes = maxCheckpointedBytes;
            this.materializedBytes = materializedBytes;
            this.changedBytes = changedBytes;
            this.stateBytes = stateBytes;
            this.restoreMillis = restoreMillis;
        }

        double uploadedInAll() {
            return meanCheckpointedBytes + Math.max(0, materializedBytes);
        }

        String toLine() {
            return String.join(
                    "\t",
                    setup,
                    Integer.toString(round),
                    Long.toString(checkpoints),
                    Double.toString(meanCheckpointedBytes),
                    Long.toString(maxCheckpointedBytes),
                    Double.toString(materializedBytes),
                    Double.toString(changedBytes),
                    Long.toString(stateBytes),
                    Long.toString(restoreMillis));
        }

        static Result fromLine(String line) {
            final String[] f = line.split("\t");
            return new Result(
                    f[0],
                    Integer.parseInt(f[1]),
                    Long.parseLong(f[2]),
                    Double.parseDouble(f[3]),
                    Long.parseLong(f[4]),
                    Double.parseDouble(f[5]),
                    Double.parseDouble(f[6]),
                    Long.parseLong(f[7]),
                    Long.parseLong(f[8]));
        }
    }

    static void append(Path file, Result result) throws IOException {
        Files.writeString(
                file,
                result.toLine() + System.lineSeparator(),
                StandardCharsets.UTF_8,
                StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    static List<Result> read(List<Path> files) throws IOException {
        final List<Result> results = new ArrayList<>();
        for (Path file : files) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    results.add(Result.fromLine(line));
                }
            }
        }
        return results;
    }

    /** Prints one row per setup, in the order of their first results. */
    static void print(List<Result> results, PrintStream out) {
        final Map<String, List<Result>> bySetup = new LinkedHashMap<>();
        for (Result result : results) {
            bySetup.computeIfAbsent(result.setup, unused -> new ArrayList<>()).add(result);
        }
        final List<Result> baselineRuns = bySetup.get(BASELINE);
        final double baseline =
                baselineRuns == null
                        ? Double.NaN
                        : median(baselineRuns.stream().mapToDouble(r -> r.restoreMillis));
        out.println(
                "| setup | rounds | checkpoints after the load | checkpointed (MB) | max"
                        + " checkpointed (MB) | materialized (MB) | uploaded in all (MB) | changed"
                        + " (MB) | uploaded in all / changed | state (MB) | restore (ms) |"
                        + " per-round restore (ms) | restore / "
                        + BASELINE
                        + " |");
        out.println("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (Map.Entry<String, List<Result>> entry : bySetup.entrySet()) {
            final List<Result> runs = entry.getValue();
            final boolean changelog = runs.get(0).materializedBytes >= 0;
            final double restore = median(runs.stream().mapToDouble(r -> r.restoreMillis));
            final double inAll = median(runs.stream().mapToDouble(Result::uploadedInAll));
            final double changed = median(runs.stream().mapToDouble(r -> r.changedBytes));
            final double materialized = median(runs.stream().mapToDouble(r -> r.materializedBytes));
            out.printf(
                    Locale.ROOT,
                    "| %s | %d | %.0f | %.2f | %.2f | %s | %.2f | %.2f | %.1f | %.1f | %.0f | %s"
                            + " | %s |%n",
                    entry.getKey(),
                    runs.size(),
                    median(runs.stream().mapToDouble(r -> r.checkpoints)),
                    median(runs.stream().mapToDouble(r -> r.meanCheckpointedBytes)) / 1e6,
                    runs.stream().mapToLong(r -> r.maxCheckpointedBytes).max().orElse(0) / 1e6,
                    changelog ? String.format(Locale.ROOT, "%.2f", materialized / 1e6) : "-",
                    inAll / 1e6,
                    changed / 1e6,
                    inAll / changed,
                    median(runs.stream().mapToDouble(r -> r.stateBytes)) / 1e6,
                    restore,
                    String.join(
                            ", ",
                            runs.stream()
                                    .map(r -> Long.toString(r.restoreMillis))
                                    .toArray(String[]::new)),
                    Double.isNaN(baseline)
                            ? "-"
                            : String.format(Locale.ROOT, "%.2f", restore / baseline));
        }
        out.println();
        out.println(
                "Medians over the rounds, per checkpoint after the load; the largest checkpoint"
                        + " over all rounds. Checkpointed: Flink's checkpointed size, which with the"
                        + " changelog backend counts its log only. Materialized: what the changelog"
                        + " backend's materializations uploaded (their incremental sizes, from its"
                        + " gauges), per checkpoint. Changed: updates per second times the time"
                        + " between checkpoints times (key + value) bytes. Restore: the slowest"
                        + " keyed subtask's time from INITIALIZING to RUNNING.");
    }

    private static double median(DoubleStream values) {
        final double[] sorted = values.sorted().toArray();
        if (sorted.length == 0) {
            return Double.NaN;
        }
        final int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
