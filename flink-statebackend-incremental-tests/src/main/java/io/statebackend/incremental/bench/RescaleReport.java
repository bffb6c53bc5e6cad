package io.statebackend.incremental.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints the results of {@link RescaleBenchmark} runs, one file per backend, as one Markdown table:
 * median restore time per case and backend, their ratio, and the bytes of the first checkpoint
 * after each case against the restored state size.
 */
final class RescaleReport {

    private static final String OURS = "incremental";
    private static final String FLINK = "flink-rocksdb";

    private RescaleReport() {}

    /** Results of one case and backend. */
    private static final class Cell {
        final List<Double> millis = new ArrayList<>();
        long firstCheckpointBytes = -1;
        long stateBytes;
        double backgroundMillis = -1;

        double median() {
            List<Double> sorted = new ArrayList<>(millis);
            Collections.sort(sorted);
            return sorted.get(sorted.size() / 2);
        }
    }

    static void print(List<String> files, PrintStream out) throws IOException {
        Map<String, Map<String, Cell>> cells = new LinkedHashMap<>();
        for (String file : files) {
            for (String line : Files.readAllLines(Paths.get(file))) {
                String[] fields = line.split("\t");
                if (fields.length < 6) {
                    continue;
                }
                Cell cell =
                        cells.computeIfAbsent(fields[1], name -> new LinkedHashMap<>())
                                .computeIfAbsent(fields[0], name -> new Cell());
                cell.millis.add(Double.parseDouble(fields[3]));
                if (Long.parseLong(fields[4]) >= 0) {
                    cell.firstCheckpointBytes = Long.parseLong(fields[4]);
                }
                cell.stateBytes = Long.parseLong(fields[5]);
                if (fields.length > 6 && Double.parseDouble(fields[6]) >= 0) {
                    cell.backgroundMillis = Double.parseDouble(fields[6]);
                }
            }
        }
        out.println(
                "| case | this backend (ms) | Flink RocksDB (ms) | speed-up |"
                        + " this backend, clip in background (ms) |"
                        + " first checkpoint / state, this backend |"
                        + " first checkpoint / state, Flink RocksDB |");
        out.println("|---|---:|---:|---:|---:|---:|---:|");
        for (Map.Entry<String, Map<String, Cell>> row : cells.entrySet()) {
            Cell ours = row.getValue().get(OURS);
            Cell flink = row.getValue().get(FLINK);
            out.printf(
                    Locale.ROOT,
                    "| %s | %s | %s | %s | %s | %s | %s |%n",
                    row.getKey(),
                    ours == null ? "-" : String.format(Locale.ROOT, "%.0f", ours.median()),
                    flink == null ? "-" : String.format(Locale.ROOT, "%.0f", flink.median()),
                    ours == null || flink == null
                            ? "-"
                            : String.format(Locale.ROOT, "%.1fx", flink.median() / ours.median()),
                    ours == null || ours.backgroundMillis < 0
                            ? "-"
                            : String.format(Locale.ROOT, "%.0f", ours.backgroundMillis),
                    share(ours),
                    share(flink));
        }
        out.println();
        out.println(
                "Times are medians over the rounds, summed over the new subtasks; the task"
                        + " runs while this backend clips in the background (first round, waited"
                        + " for before the first checkpoint). First checkpoint: the bytes uploaded"
                        + " by the first checkpoint of the largest new subtask, against the state"
                        + " size of the checkpoint restored from.");
    }

    private static String share(Cell cell) {
        if (cell == null || cell.firstCheckpointBytes < 0 || cell.stateBytes <= 0) {
            return "-";
        }
        return String.format(
                Locale.ROOT,
                "%.2f (%.1f of %.1f MB)",
                (double) cell.firstCheckpointBytes / cell.stateBytes,
                cell.firstCheckpointBytes / 1e6,
                cell.stateBytes / 1e6);
    }
}
