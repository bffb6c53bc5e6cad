package io.statebackend.incremental.bench.jmh;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Merges the CSV results of JMH runs of the state benchmarks, one file per round and run named
 * {@code <round>-<label>.csv} (the label is the backend, or {@code before} for this backend from an
 * earlier build), into a Markdown table: the median over the rounds of each backend's ops/ms, and
 * the median and range of the per-round ratios to Flink's RocksDB backend.
 *
 * <pre>java ... StateBenchReport DIR</pre>
 */
public final class StateBenchReport {

    private static final String BEFORE = "before";

    private static final String[] BACKENDS = {
        BenchmarkBackend.INCREMENTAL, BenchmarkBackend.FLINK_ROCKSDB, BenchmarkBackend.HASHMAP
    };

    private StateBenchReport() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("Usage: StateBenchReport RESULTS_DIR");
        }
        print(read(Paths.get(args[0])), System.out);
    }

    /** Benchmark method -> backend -> round -> ops/ms. */
    static Map<String, Map<String, Map<String, Double>>> read(Path dir) throws IOException {
        Map<String, Map<String, Map<String, Double>>> scores = new TreeMap<>();
        List<Path> files = new ArrayList<>();
        try (var listing = Files.list(dir)) {
            listing.filter(p -> p.toString().endsWith(".csv")).forEach(files::add);
        }
        Collections.sort(files);
        for (Path file : files) {
            String name = file.getFileName().toString();
            String round = name.replaceFirst("-[^-]*\\.csv$", "");
            String label = name.substring(round.length() + 1, name.length() - ".csv".length());
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            if (lines.isEmpty()) {
                // a run still going on, or one that failed
                continue;
            }
            List<String> header = splitCsv(lines.get(0));
            int benchmarkColumn = header.indexOf("Benchmark");
            int scoreColumn = header.indexOf("Score");
            for (String line : lines.subList(1, lines.size())) {
                if (line.isBlank()) {
                    continue;
                }
                List<String> row = splitCsv(line);
                String benchmark = row.get(benchmarkColumn);
                String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
                scores.computeIfAbsent(method, m -> new TreeMap<>())
                        .computeIfAbsent(label, b -> new TreeMap<>())
                        .put(round, Double.parseDouble(row.get(scoreColumn)));
            }
        }
        return scores;
    }

    static void print(Map<String, Map<String, Map<String, Double>>> scores, PrintStream out) {
        boolean withBefore =
                scores.values().stream().anyMatch(byBackend -> byBackend.containsKey(BEFORE));
        out.println(
                "| operation | this backend ops/ms | Flink RocksDB ops/ms | hashmap ops/ms"
                        + " | this / Flink RocksDB | per-round range | hashmap / Flink RocksDB |"
                        + (withBefore ? " before ops/ms | this / before |" : ""));
        out.println("|---|--:|--:|--:|--:|--:|--:|" + (withBefore ? "--:|--:|" : ""));
        for (Map.Entry<String, Map<String, Map<String, Double>>> entry : scores.entrySet()) {
            Map<String, Map<String, Double>> byBackend = entry.getValue();
            StringBuilder row = new StringBuilder("| ").append(entry.getKey());
            for (String backend : BACKENDS) {
                row.append(" | ").append(format(median(byBackend.get(backend))));
            }
            List<Double> ratios =
                    roundRatios(
                            byBackend.get(BenchmarkBackend.INCREMENTAL),
                            byBackend.get(BenchmarkBackend.FLINK_ROCKSDB));
            row.append(" | ").append(formatRatio(median(ratios)));
            row.append(" | ")
                    .append(
                            ratios.isEmpty()
                                    ? "–"
                                    : formatRatio(Collections.min(ratios))
                                            + "–"
                                            + formatRatio(Collections.max(ratios)));
            row.append(" | ")
                    .append(
                            formatRatio(
                                    median(
                                            roundRatios(
                                                    byBackend.get(BenchmarkBackend.HASHMAP),
                                                    byBackend.get(
                                                            BenchmarkBackend.FLINK_ROCKSDB)))));
            if (withBefore) {
                row.append(" | ").append(format(median(byBackend.get(BEFORE))));
                row.append(" | ")
                        .append(
                                formatRatio(
                                        median(
                                                roundRatios(
                                                        byBackend.get(BenchmarkBackend.INCREMENTAL),
                                                        byBackend.get(BEFORE)))));
            }
            out.println(row.append(" |"));
        }
    }

    /** The ratio of the two backends in each round both ran. */
    private static List<Double> roundRatios(Map<String, Double> upper, Map<String, Double> lower) {
        List<Double> ratios = new ArrayList<>();
        if (upper == null || lower == null) {
            return ratios;
        }
        for (Map.Entry<String, Double> round : upper.entrySet()) {
            Double other = lower.get(round.getKey());
            if (other != null && other > 0) {
                ratios.add(round.getValue() / other);
            }
        }
        return ratios;
    }

    private static double median(Map<String, Double> byRound) {
        return byRound == null ? Double.NaN : median(new ArrayList<>(byRound.values()));
    }

    static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int middle = sorted.size() / 2;
        return sorted.size() % 2 == 1
                ? sorted.get(middle)
                : (sorted.get(middle - 1) + sorted.get(middle)) / 2;
    }

    private static String format(double value) {
        return Double.isNaN(value) ? "–" : String.format(Locale.ROOT, "%.1f", value);
    }

    private static String formatRatio(double value) {
        return Double.isNaN(value) ? "–" : String.format(Locale.ROOT, "%.2f", value);
    }

    /** Splits one line of JMH's CSV output, whose fields are quoted when they are text. */
    static List<String> splitCsv(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        fields.add(field.toString());
        return fields;
    }
}
