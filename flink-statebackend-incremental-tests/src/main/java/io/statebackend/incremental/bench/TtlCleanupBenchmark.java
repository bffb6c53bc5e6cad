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
 * <p>Modes, one backend each in one JVM: no TTL at all (throughput baseline); TTL without any
 * cleanup; TTL with incremental cleanup ({@code cleanupIncrementally(5, false)}); TTL with the
 * default background cleanup. The TTL clock is a manual one: the first keys are written at 0,
 * everything else at {@code 2 * ttl}, so exactly the first keys are expired.
 *
 * <p>Run it with {@code bash tools/bench/ttl-bench.sh}; options are {@code --name=value}: {@code
 * keys}, {@code working-set}, {@code round}, {@code rounds}, {@code value-bytes}, {@code dir}. Not
 * a test: it asserts nothing about time.
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
                default:
                    throw new IllegalArgumentException("Unknown option " + arg);
            }
        }
        Path root = dir != null ? dir : Files.createTempDirectory("ttl-bench");
        System.out.printf(
                Locale.ROOT,
                "keys written once: %,d; working set: %,d; %d rounds of %,d records, an"
                        + " incremental checkpoint after each; value %d bytes; TTL %d (manual"
                        + " clock)%n%n",
                keys,
                workingSet,
                rounds,
                round,
                valueBytes,
                TTL);
        System.out.println(
                "| mode | round | records written | expired entries left | expired % of keys"
                        + " written once | live SST bytes | round throughput (records/s) |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        double[] throughput = new double[Mode.values().length];
        for (Mode mode : Mode.values()) {
            throughput[mode.ordinal()] =
                    run(
                            mode,
                            root.resolve(mode.name()),
                            keys,
                            workingSet,
                            round,
                            rounds,
                            valueBytes);
        }
        System.out.println();
        System.out.println(
                "| mode | throughput (records/s) | vs no TTL | vs TTL without cleanup |");
        System.out.println("| --- | ---: | ---: | ---: |");
        for (Mode mode : Mode.values()) {
            double value = throughput[mode.ordinal()];
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %,.0f | %.3f | %.3f |%n",
                    mode.label,
                    value,
                    value / throughput[Mode.NO_TTL.ordinal()],
                    value / throughput[Mode.TTL_NO_CLEANUP.ordinal()]);
        }
        if (dir == null) {
            FileUtils.deleteDirectoryQuietly(root.toFile());
        }
    }

    /** Returns the mean write throughput of the rounds, in records per second. */
    private static double run(
            Mode mode, Path root, int keys, int workingSet, int round, int rounds, int valueBytes)
            throws Exception {
        Files.createDirectories(root);
        Clock clock = new Clock();
        IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend(true)
                        .withLocalDirectories(root.resolve("local").toString());
        try (MockEnvironment env =
                MockEnvironment.builder()
                        .setManagedMemorySize(128L << 20)
                        .setMaxParallelism(MAX_PARALLELISM)
                        .build()) {
            CheckpointStorageAccess storage =
                    new FileSystemCheckpointStorage(root.resolve("checkpoints").toUri())
                            .createCheckpointStorage(new JobID());
            storage.initializeBaseLocationsForCheckpoint();
            CloseableRegistry cancel = new CloseableRegistry();
            @SuppressWarnings("unchecked")
            IncrementalRocksDBKeyedStateBackend<Integer> backend =
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
                                            java.util.Collections.emptyList(),
                                            cancel,
                                            1.0));
            try {
                ValueState<byte[]> state =
                        backend.getPartitionedState(
                                VoidNamespace.INSTANCE,
                                VoidNamespaceSerializer.INSTANCE,
                                mode.descriptor());
                byte[] value = new byte[valueBytes];
                clock.now = 0;
                for (int key = 0; key < keys; key++) {
                    backend.setCurrentKey(key);
                    state.update(value);
                }
                checkpoint(backend, storage, 1);
                clock.now = 2 * TTL;
                print(mode, 0, keys, backend, keys, Double.NaN);
                long totalNanos = 0;
                long written = keys;
                for (int r = 1; r <= rounds; r++) {
                    long start = System.nanoTime();
                    for (int i = 0; i < round; i++) {
                        backend.setCurrentKey(keys + (int) ((written + i) % workingSet));
                        state.update(value);
                    }
                    long nanos = System.nanoTime() - start;
                    totalNanos += nanos;
                    written += round;
                    checkpoint(backend, storage, r + 1);
                    print(mode, r, written, backend, keys, round / (nanos / 1e9));
                }
                return (double) rounds * round / (totalNanos / 1e9);
            } finally {
                backend.dispose();
                cancel.close();
            }
        }
    }

    private static void checkpoint(
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
        backend.notifyCheckpointComplete(id);
    }

    private static void print(
            Mode mode,
            int round,
            long written,
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            int keys,
            double throughput)
            throws Exception {
        long expired = mode == Mode.NO_TTL ? 0 : countExpired(backend);
        long sstBytes =
                backend.getDb()
                        .getLongProperty(
                                backend.getColumnFamily("state"), "rocksdb.live-sst-files-size");
        System.out.printf(
                Locale.ROOT,
                "| %s | %d | %,d | %s | %s | %,d | %s |%n",
                mode.label,
                round,
                written,
                mode == Mode.NO_TTL ? "-" : String.format(Locale.ROOT, "%,d", expired),
                mode == Mode.NO_TTL
                        ? "-"
                        : String.format(Locale.ROOT, "%.2f", 100.0 * expired / keys),
                sstBytes,
                Double.isNaN(throughput) ? "-" : String.format(Locale.ROOT, "%,.0f", throughput));
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
