package io.statebackend.incremental.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The results of {@link CheckpointBenchmark} runs as tab-separated lines, and their report: per
 * setup, over the checkpoints after the first of all rounds, checkpoint duration p50 and p99, mean
 * and largest bytes uploaded, bytes changed, write amplification (uploaded / changed), the largest
 * checkpoint against the state size, and the throughput of the state accesses; then the bytes
 * uploaded per checkpoint of the first round.
 */
final class CheckpointReport {

    private static final String WORKLOAD = "workload";
    private static final String SETUP = "setup";
    private static final String CHECKPOINT = "checkpoint";
    private static final String RUN = "run";
    private static final String AHEAD = "ahead";

    private CheckpointReport() {}

    static String workloadLine(String description) {
        return WORKLOAD + "\t" + description;
    }

    static String setupLine(String label, String description) {
        return SETUP + "\t" + label + "\t" + description;
    }

    static String checkpointLine(
            String label,
            int round,
            long id,
            long stateSize,
            long uploaded,
            long changed,
            double syncMillis,
            double asyncMillis) {
        return String.join(
                "\t",
                CHECKPOINT,
                label,
                String.valueOf(round),
                String.valueOf(id),
                String.valueOf(stateSize),
                String.valueOf(uploaded),
                String.valueOf(changed),
                format("%.3f", syncMillis),
                format("%.3f", asyncMillis));
    }

    static String runLine(
            String label,
            int round,
            long writeOps,
            long writeNanos,
            long readOps,
            long readNanos,
            double restoreMillis,
            long keys) {
        return String.join(
                "\t",
                RUN,
                label,
                String.valueOf(round),
                String.valueOf(writeOps),
                String.valueOf(writeNanos),
                String.valueOf(readOps),
                String.valueOf(readNanos),
                format("%.3f", restoreMillis),
                String.valueOf(keys));
    }

    /** Bytes uploaded ahead of checkpoints in one round, and of those the ones discarded. */
    static String aheadLine(String label, int round, long uploaded, long discarded) {
        return String.join(
                "\t",
                AHEAD,
                label,
                String.valueOf(round),
                String.valueOf(uploaded),
                String.valueOf(discarded));
    }

    /** One checkpoint of one setup. */
    static final class Checkpoint {
        final int round;
        final long id;
        final long stateSize;
        final long uploaded;
        final long changed;
        final double millis;

        Checkpoint(int round, long id, long stateSize, long uploaded, long changed, double millis) {
            this.round = round;
            this.id = id;
            this.stateSize = stateSize;
            this.uploaded = uploaded;
            this.changed = changed;
            this.millis = millis;
        }
    }

    /** Everything measured of one setup. */
    static final class Setup {
        final String label;
        String description = "";
        final List<Checkpoint> checkpoints = new ArrayList<>();
        long writeOps;
        long writeNanos;
        long readOps;
        long readNanos;
        final List<Double> restoreMillis = new ArrayList<>();
        int rounds;
        long uploadedAhead;
        long discardedAhead;

        Setup(String label) {
            this.label = label;
        }

        /** The checkpoints after the first of each round: the ones with changes before them. */
        List<Checkpoint> changing() {
            List<Checkpoint> changing = new ArrayList<>();
            for (Checkpoint checkpoint : checkpoints) {
                if (checkpoint.id > 1) {
                    changing.add(checkpoint);
                }
            }
            return changing;
        }

        double writesPerMs() {
            return writeNanos == 0 ? Double.NaN : writeOps * 1e6 / writeNanos;
        }

        double readsPerMs() {
            return readNanos == 0 ? Double.NaN : readOps * 1e6 / readNanos;
        }
    }

    /** Results of one or more runs, by setup in order of appearance. */
    static final class Results {
        final List<String> workloads = new ArrayList<>();
        final Map<String, Setup> setups = new LinkedHashMap<>();

        static Results read(List<Path> files) throws IOException {
            List<String> lines = new ArrayList<>();
            for (Path file : files) {
                lines.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
            }
            return of(lines);
        }

        static Results of(List<String> lines) {
            Results results = new Results();
            for (String line : lines) {
                String[] f = line.split("\t");
                switch (f[0]) {
                    case WORKLOAD:
                        if (!results.workloads.contains(f[1])) {
                            results.workloads.add(f[1]);
                        }
                        break;
                    case SETUP:
                        results.setup(f[1]).description = f[2];
                        break;
                    case CHECKPOINT:
                        results.setup(f[1])
                                .checkpoints
                                .add(
                                        new Checkpoint(
                                                Integer.parseInt(f[2]),
                                                Long.parseLong(f[3]),
                                                Long.parseLong(f[4]),
                                                Long.parseLong(f[5]),
                                                Long.parseLong(f[6]),
                                                Double.parseDouble(f[7])
                                                        + Double.parseDouble(f[8])));
                        break;
                    case RUN:
                        Setup setup = results.setup(f[1]);
                        setup.writeOps += Long.parseLong(f[3]);
                        setup.writeNanos += Long.parseLong(f[4]);
                        setup.readOps += Long.parseLong(f[5]);
                        setup.readNanos += Long.parseLong(f[6]);
                        setup.restoreMillis.add(Double.parseDouble(f[7]));
                        setup.rounds++;
                        break;
                    case AHEAD:
                        results.setup(f[1]).uploadedAhead += Long.parseLong(f[3]);
                        results.setup(f[1]).discardedAhead += Long.parseLong(f[4]);
                        break;
                    default:
                        throw new IllegalArgumentException("Unknown result line: " + line);
                }
            }
            return results;
        }

        private Setup setup(String label) {
            return setups.computeIfAbsent(label, Setup::new);
        }
    }

    static void print(Results results, PrintStream out) {
        out.println("# Checkpoint cost");
        out.println();
        for (String workload : results.workloads) {
            out.println("- workload: " + workload);
        }
        for (Setup setup : results.setups.values()) {
            out.println("- `" + setup.label + "`: " + setup.description);
        }
        out.println();
        Setup reference = results.setups.get("default");
        if (reference == null && !results.setups.isEmpty()) {
            reference = results.setups.values().iterator().next();
        }
        out.println(
                "| setup | rounds | p50 (ms) | p99 (ms) | p99 / p50 | mean uploaded (MB) | max"
                        + " uploaded (MB) | discarded ahead (MB) | changed (MB) | uploaded /"
                        + " changed | max / state | state (MB) | writes / ms | reads / ms |"
                        + " restore (ms) |");
        out.println("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (Setup setup : results.setups.values()) {
            List<Checkpoint> changing = setup.changing();
            if (changing.isEmpty()) {
                continue;
            }
            List<Double> millis = new ArrayList<>();
            double uploaded = 0;
            long maxUploaded = 0;
            double changed = 0;
            double maxShare = 0;
            long stateSize = 0;
            for (Checkpoint checkpoint : changing) {
                millis.add(checkpoint.millis);
                uploaded += checkpoint.uploaded;
                changed += checkpoint.changed;
                maxUploaded = Math.max(maxUploaded, checkpoint.uploaded);
                maxShare = Math.max(maxShare, (double) checkpoint.uploaded / checkpoint.stateSize);
                stateSize = Math.max(stateSize, checkpoint.stateSize);
            }
            Collections.sort(millis);
            double p50 = percentile(millis, 0.50);
            double p99 = percentile(millis, 0.99);
            double discarded = setup.discardedAhead;
            out.printf(
                    Locale.ROOT,
                    "| %s | %d | %.0f | %.0f | %.1f | %.2f | %.2f | %s | %.2f | %.1f | %.2f | %.1f |"
                            + " %s | %s | %s |%n",
                    setup.label,
                    setup.rounds,
                    p50,
                    p99,
                    p99 / p50,
                    uploaded / changing.size() / 1e6,
                    maxUploaded / 1e6,
                    setup.uploadedAhead == 0
                            ? "-"
                            : format("%.2f", discarded / changing.size() / 1e6),
                    changed / changing.size() / 1e6,
                    (uploaded + discarded) / changed,
                    maxShare,
                    stateSize / 1e6,
                    relative(setup.writesPerMs(), reference.writesPerMs(), setup == reference),
                    relative(setup.readsPerMs(), reference.readsPerMs(), setup == reference),
                    setup.restoreMillis.isEmpty()
                            ? "-"
                            : format("%.0f", median(setup.restoreMillis)));
        }
        out.println();
        out.println(
                "Over the checkpoints after the first of every round (the first uploads the whole"
                        + " state). Durations: snapshot call plus its asynchronous part; p99 by"
                        + " nearest rank. Uploaded: the checkpointed size of the handle (bytes"
                        + " written for the checkpoint, also those uploaded ahead of it and taken"
                        + " over); discarded ahead: uploads ahead of checkpoints whose file was"
                        + " compacted away first (or left at the end), per checkpoint; changed:"
                        + " keys written times (4 + value bytes); uploaded / changed counts the"
                        + " discarded bytes too; max / state: the largest checkpoint against its"
                        + " state size."
                        + " Writes and reads: state accesses per millisecond over all rounds, in"
                        + " brackets against `"
                        + (reference == null ? "-" : reference.label)
                        + "`. Restore: median time to rebuild the backend from the last"
                        + " checkpoint.");
        out.println();
        printSeries(results, out);
    }

    /** Uploaded megabytes per checkpoint of the first round: where the spikes are. */
    private static void printSeries(Results results, PrintStream out) {
        TreeMap<Long, Map<String, Long>> byId = new TreeMap<>();
        for (Setup setup : results.setups.values()) {
            int firstRound = Integer.MAX_VALUE;
            for (Checkpoint checkpoint : setup.checkpoints) {
                firstRound = Math.min(firstRound, checkpoint.round);
            }
            for (Checkpoint checkpoint : setup.checkpoints) {
                if (checkpoint.round == firstRound) {
                    byId.computeIfAbsent(checkpoint.id, id -> new LinkedHashMap<>())
                            .put(setup.label, checkpoint.uploaded);
                }
            }
        }
        if (byId.isEmpty()) {
            return;
        }
        StringBuilder header = new StringBuilder("| checkpoint |");
        StringBuilder rule = new StringBuilder("|--:|");
        for (String label : results.setups.keySet()) {
            header.append(' ').append(label).append(" |");
            rule.append("--:|");
        }
        out.println("Uploaded per checkpoint, first round (MB):");
        out.println();
        out.println(header);
        out.println(rule);
        for (Map.Entry<Long, Map<String, Long>> row : byId.entrySet()) {
            StringBuilder line = new StringBuilder("| " + row.getKey() + " |");
            for (String label : results.setups.keySet()) {
                Long bytes = row.getValue().get(label);
                line.append(' ').append(bytes == null ? "-" : format("%.2f", bytes / 1e6));
                line.append(" |");
            }
            out.println(line);
        }
    }

    private static String relative(double value, double reference, boolean isReference) {
        if (Double.isNaN(value)) {
            return "-";
        }
        if (isReference || !(reference > 0)) {
            return format("%.0f", value);
        }
        return format("%.0f (%.2f)", value, value / reference);
    }

    static double percentile(List<Double> sorted, double quantile) {
        int rank = (int) Math.ceil(quantile * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return percentile(sorted, 0.5);
    }

    private static String format(String pattern, Object... args) {
        return String.format(Locale.ROOT, pattern, args);
    }
}
