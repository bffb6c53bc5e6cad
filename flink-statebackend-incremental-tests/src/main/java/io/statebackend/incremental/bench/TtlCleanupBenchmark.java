package io.statebackend.incremental.bench;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocation;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.FileUtils;

import org.rocksdb.RocksIterator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.Locale;
import java.util.concurrent.RunnableFuture;

/**
 * A TTL cleanup driver: {@code keys} keys are written once with a short TTL and never read again;
 * once they expired, the job keeps writing other keys (a working set of {@code working-set} keys)
 * in rounds of {@code round} records, with an incremental checkpoint after every round. After each
 * round the driver counts the expired entries left in RocksDB by a scan of the column family and
 * reads the live SST bytes; it measures the write throughput of the rounds (scans and checkpoints
 * excluded).
 *
 * <p>Modes, one backend each in one JVM, taking turns in every round (so that a change in the
 * machine's load falls on all of them): no TTL at all (throughput baseline); TTL without any
 * cleanup; TTL with incremental cleanup ({@code cleanupIncrementally(5, false)}); TTL with the
 * default background cleanup. The TTL clock is a manual one: the first keys are written at 0,
 * everything else at {@code 2 * ttl}, so exactly the first keys are expired.
 *
 * <p>Run it with {@code bash tools/bench/ttl-bench.sh}; options are {@code --name=value}: {@code
 * keys}, {@code working-set}, {@code round}, {@code rounds}, {@code value-bytes}, {@code dir},
 * {@code modes}. Not a test: it asserts nothing about time.
 */
public final class TtlCleanupBenchmark {

    private static final int MAX_PARALLELISM = 128;
    private static final long TTL = 1_000;

    enum Mode {
        NO_TTL("no TTL"),
        TTL_NO_CLEANUP("TTL, no cleanup"),
        TTL_INCREMENTAL("TTL, incremental"),
        TTL_BACKGROUND("TTL, background");

        final String label;

        Mode(String label) {
            this.label = label;
        }

        ValueStateDescriptor<byte[]> descriptor() {
            ValueStateDescriptor<byte[]> descriptor =
                    new ValueStateDescriptor<>("state", BytePrimitiveArraySerializer.INSTANCE);
            StateTtlConfig.Builder ttl = StateTtlConfig.newBuilder(Duration.ofMillis(TTL));
            switch (this) {
                case NO_TTL:
                    return descriptor;
                case TTL_NO_CLEANUP:
                    ttl.disableCleanupInBackground();
                    break;
                case TTL_INCREMENTAL:
                    ttl.disableCleanupInBackground().cleanupIncrementally(5, false);
                    break;
                case TTL_BACKGROUND:
                    break;
                default:
                    throw new IllegalArgumentException(name());
            }
            descriptor.enableTimeToLive(ttl.build());
            return descriptor;
        }
    }

    /** The manual TTL clock. */
    static final class Clock implements TtlTimeProvider {
        long now;

        @Override
        public long currentTimestamp() {
            return now;
        }
    }

    private TtlCleanupBenchmark() {}

    public static void main(String[] args) throws Exception {
        int keys = 1_000_000;
        int workingSet = 500_000;
        int round = 500_000;
        int rounds = 8;
        int valueBytes = 16;
        Path dir = null;
        Mode[] selected = Mode.values();
        for (String arg : args) {
            String[] kv = arg.replaceFirst("^--", "").split("=", 2);
            switch (kv[0]) {
                case "keys":
                    keys = Integer.parseInt(kv[1]);
                    break;
                case "working-set":
                    workingSet = Integer.parseInt(kv[1]);
                    break;
                case "round":
                    round = Integer.parseInt(kv[1]);
                    break;
                case "rounds":
                    rounds = Integer.parseInt(kv[1]);
                    break;
                case "value-bytes":
                    valueBytes = Integer.parseInt(kv[1]);
                    break;
                case "dir":
                    dir = Path.of(kv[1]);
                    break;
                case "modes":
                    selected = parseModes(kv[1]);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown option " + arg);
            }
        }
        Path root = dir != null ? dir : Files.createTempDirectory("ttl-bench");
        System.out.printf(
                Locale.ROOT,
                "keys written once: %,d; working set: %,d; %d rounds of %,d records, an"
                        + " incremental checkpoint after each, the modes taking turns in every"
                        + " round; value %d bytes; TTL %d (manual clock)%n%n",
                keys,
                workingSet,
                rounds,
                round,
                valueBytes,
                TTL);
        Mode[] modes = selected;
        ModeRun[] runs = new ModeRun[Mode.values().length];
        try {
            for (Mode mode : modes) {
                runs[mode.ordinal()] = new ModeRun(mode, root.resolve(mode.name()), valueBytes);
                runs[mode.ordinal()].writeOnce(keys);
            }
            long[][] roundNanos = new long[Mode.values().length][rounds + 1];
            long[][] expiredLeft = new long[Mode.values().length][rounds + 1];
            long[][] sstBytes = new long[Mode.values().length][rounds + 1];
            for (Mode mode : modes) {
                expiredLeft[mode.ordinal()][0] = runs[mode.ordinal()].countExpired();
                sstBytes[mode.ordinal()][0] = runs[mode.ordinal()].liveSstBytes();
            }
            for (int r = 1; r <= rounds; r++) {
                // the order of the modes rotates, so that none always runs first after a pause
                for (int m = 0; m < modes.length; m++) {
                    ModeRun run = runs[modes[(m + r) % modes.length].ordinal()];
                    int index = run.mode.ordinal();
                    roundNanos[index][r] = run.round(keys, workingSet, round);
                    // the notification runs on the task thread (and cleans): it is task time
                    roundNanos[index][r] += run.checkpoint(r + 1);
                    expiredLeft[index][r] = run.countExpired();
                    sstBytes[index][r] = run.liveSstBytes();
                }
            }
            printRounds(modes, keys, round, rounds, roundNanos, expiredLeft, sstBytes);
            printSummary(modes, keys, round, rounds, roundNanos, expiredLeft);
        } finally {
            for (ModeRun run : runs) {
                if (run != null) {
                    run.close();
                }
            }
            if (dir == null) {
                FileUtils.deleteDirectoryQuietly(root.toFile());
            }
        }
    }

    private static void printRounds(
            Mode[] modes,
            int keys,
            int round,
            int rounds,
            long[][] roundNanos,
            long[][] expiredLeft,
            long[][] sstBytes) {
        System.out.println(
                "| mode | round | records written | task time (s) | expired entries left"
                        + " | expired % of keys written once | live SST bytes"
                        + " | round throughput (records/s) |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (Mode mode : modes) {
            int m = mode.ordinal();
            long taskNanos = 0;
            for (int r = 0; r <= rounds; r++) {
                taskNanos += roundNanos[m][r];
                System.out.printf(
                        Locale.ROOT,
                        "| %s | %d | %,d | %.1f | %s | %s | %,d | %s |%n",
                        mode.label,
                        r,
                        keys + (long) r * round,
                        taskNanos / 1e9,
                        mode == Mode.NO_TTL
                                ? "-"
                                : String.format(Locale.ROOT, "%,d", expiredLeft[m][r]),
                        mode == Mode.NO_TTL
                                ? "-"
                                : String.format(
                                        Locale.ROOT, "%.2f", 100.0 * expiredLeft[m][r] / keys),
                        sstBytes[m][r],
                        r == 0
                                ? "-"
                                : String.format(
                                        Locale.ROOT, "%,.0f", round / (roundNanos[m][r] / 1e9)));
            }
        }
    }

    private static void printSummary(
            Mode[] modes,
            int keys,
            int round,
            int rounds,
            long[][] roundNanos,
            long[][] expiredLeft) {
        System.out.println();
        System.out.println(
                "| mode | throughput (records/s) | vs no TTL | vs TTL without cleanup"
                        + " | median of round ratios vs TTL without cleanup"
                        + " | first round with expired < 1% |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
        double[] throughput = new double[Mode.values().length];
        for (Mode mode : modes) {
            long total = 0;
            for (int r = 1; r <= rounds; r++) {
                total += roundNanos[mode.ordinal()][r];
            }
            throughput[mode.ordinal()] = (double) rounds * round / (total / 1e9);
        }
        int reference = Mode.TTL_NO_CLEANUP.ordinal();
        for (Mode mode : modes) {
            int m = mode.ordinal();
            double[] ratios = new double[rounds];
            for (int r = 1; r <= rounds; r++) {
                ratios[r - 1] = (double) roundNanos[reference][r] / roundNanos[m][r];
            }
            Arrays.sort(ratios);
            double median =
                    rounds % 2 == 1
                            ? ratios[rounds / 2]
                            : (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2;
            String belowOnePercent = "-";
            if (mode != Mode.NO_TTL) {
                belowOnePercent = "never";
                for (int r = 0; r <= rounds; r++) {
                    if (expiredLeft[m][r] * 100 < keys) {
                        belowOnePercent = Integer.toString(r);
                        break;
                    }
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %,.0f | %.3f | %.3f | %.3f | %s |%n",
                    mode.label,
                    throughput[m],
                    throughput[m] / throughput[Mode.NO_TTL.ordinal()],
                    throughput[m] / throughput[reference],
                    median,
                    belowOnePercent);
        }
    }

    /**
     * Modes by their labels' short names, comma separated: {@code no-ttl}, {@code no-cleanup},
     * {@code incremental}, {@code background}; the first two are the references of the ratios.
     */
    private static Mode[] parseModes(String names) {
        java.util.List<Mode> modes = new java.util.ArrayList<>();
        for (String name : names.split(",")) {
            switch (name.trim()) {
                case "no-ttl":
                    modes.add(Mode.NO_TTL);
                    break;
                case "no-cleanup":
                    modes.add(Mode.TTL_NO_CLEANUP);
                    break;
                case "incremental":
                    modes.add(Mode.TTL_INCREMENTAL);
                    break;
                case "background":
                    modes.add(Mode.TTL_BACKGROUND);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown mode " + name);
            }
        }
        if (!modes.contains(Mode.NO_TTL) || !modes.contains(Mode.TTL_NO_CLEANUP)) {
            throw new IllegalArgumentException(
                    "The modes no-ttl and no-cleanup are needed as references of the ratios");
        }
        return modes.toArray(new Mode[0]);
    }

    /** One mode's backend, its state and its checkpoint storage. */
    private static final class ModeRun implements AutoCloseable {
        final Mode mode;
        final Clock clock = new Clock();
        final MockEnvironment env;
        final CheckpointStorageAccess storage;
        final CloseableRegistry cancel = new CloseableRegistry();
        final IncrementalRocksDBKeyedStateBackend<Integer> backend;
        final ValueState<byte[]> state;
        final byte[] value;
        long written;

        @SuppressWarnings("unchecked")
        ModeRun(Mode mode, Path root, int valueBytes) throws Exception {
            this.mode = mode;
            this.value = new byte[valueBytes];
            Files.createDirectories(root);
            IncrementalRocksDBStateBackend stateBackend =
                    new IncrementalRocksDBStateBackend(true)
                            .withLocalDirectories(root.resolve("local").toString());
            env =
                    MockEnvironment.builder()
                            .setManagedMemorySize(128L << 20)
                            .setMaxParallelism(MAX_PARALLELISM)
                            .build();
            storage =
                    new FileSystemCheckpointStorage(root.resolve("checkpoints").toUri())
                            .createCheckpointStorage(new JobID());
            storage.initializeBaseLocationsForCheckpoint();
            backend =
                    (IncrementalRocksDBKeyedStateBackend<Integer>)
                            stateBackend.createKeyedStateBackend(
                                    new KeyedStateBackendParametersImpl<>(
                                            env,
                                            env.getJobID(),
                                            "ttl-bench",
                                            IntSerializer.INSTANCE,
                                            MAX_PARALLELISM,
                                            new KeyGroupRange(0, MAX_PARALLELISM - 1),
                                            env.getTaskKvStateRegistry(),
                                            clock,
                                            new UnregisteredMetricsGroup(),
                                            (name, value) -> {},
                                            Collections.emptyList(),
                                            cancel,
                                            1.0));
            state =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            mode.descriptor());
        }

        /** Writes the keys that expire, at time 0, then moves the clock past their TTL. */
        void writeOnce(int keys) throws Exception {
            clock.now = 0;
            for (int key = 0; key < keys; key++) {
                backend.setCurrentKey(key);
                state.update(value);
            }
            checkpoint(1);
            clock.now = 2 * TTL;
            written = keys;
        }

        /** Writes one round of the working set; returns its duration in nanoseconds. */
        long round(int keys, int workingSet, int round) throws Exception {
            long start = System.nanoTime();
            for (int i = 0; i < round; i++) {
                backend.setCurrentKey(keys + (int) ((written + i) % workingSet));
                state.update(value);
            }
            long nanos = System.nanoTime() - start;
            written += round;
            return nanos;
        }

        /** Takes a checkpoint; returns how long its completion notification took. */
        long checkpoint(long id) throws Exception {
            return TtlCleanupBenchmark.checkpoint(backend, storage, id);
        }

        long countExpired() {
            return mode == Mode.NO_TTL ? 0 : TtlCleanupBenchmark.countExpired(backend);
        }

        long liveSstBytes() throws Exception {
            return backend.getDb()
                    .getLongProperty(
                            backend.getColumnFamily("state"), "rocksdb.live-sst-files-size");
        }

        @Override
        public void close() throws Exception {
            backend.dispose();
            cancel.close();
            env.close();
        }
    }

    private static long checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            CheckpointStorageAccess storage,
            long id)
            throws Exception {
        CheckpointStorageLocation location = storage.initializeLocationForCheckpoint(id);
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        id,
                        System.currentTimeMillis(),
                        location,
                        CheckpointOptions.forCheckpointWithDefaultLocation());
        future.run();
        future.get();
        long start = System.nanoTime();
        backend.notifyCheckpointComplete(id);
        return System.nanoTime() - start;
    }

    /** Entries whose last-access timestamp (the first 8 bytes of a TTL value) is expired. */
    private static long countExpired(IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        long count = 0;
        try (RocksIterator iterator =
                backend.getDb()
                        .newIterator(backend.getColumnFamily("state"), backend.getReadOptions())) {
            for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                byte[] value = iterator.value();
                long timestamp = 0;
                for (int i = 0; i < Long.BYTES; i++) {
                    timestamp = (timestamp << 8) | (value[i] & 0xFF);
                }
                if (timestamp + TTL <= 2 * TTL) {
                    count++;
                }
            }
        }
        return count;
    }
}
