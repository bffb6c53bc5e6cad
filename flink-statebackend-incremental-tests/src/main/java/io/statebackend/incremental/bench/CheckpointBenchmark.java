package io.statebackend.incremental.bench;

import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocation;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A checkpoint benchmark driver: one workload, checkpointed by this backend in incremental mode, by
 * this backend in full (canonical) mode and by Flink's {@link HashMapStateBackend}, side by side in
 * one run.
 *
 * <p>Each backend is created directly through the {@link StateBackend} API, as a task creates it,
 * over all key groups of a {@link MockEnvironment}. It is loaded with {@code keys} keys of one
 * value state, then checkpointed {@code checkpoints} times; before every checkpoint after the first
 * a share of the keys is updated and new keys are inserted, the same ones for every backend.
 * Checkpoints go to a {@link FileSystemCheckpointStorage} on the local file system; after each one
 * the driver does what the JobManager does: it registers the handle's shared state with a {@link
 * SharedStateRegistryImpl} (which resolves placeholders of reused files), notifies the backend that
 * the checkpoint completed, and discards the checkpoint before it (one checkpoint retained), so
 * that shared files no checkpoint refers to any more are deleted. Finally each backend is disposed
 * and a new one restored from the last checkpoint; every key and value is checked.
 *
 * <p>The synchronous duration is the time of the {@code snapshot(...)} call on the task thread, the
 * asynchronous duration the time of running the future it returns. Durations depend on the machine
 * and on what else runs on it; the ratios between the backends are what the driver is for. It is
 * not a test and asserts nothing about time.
 *
 * <p>Run it with {@code bash tools/bench/checkpoint-bench.sh}; options are {@code --name=value}:
 * {@code keys}, {@code value-bytes}, {@code checkpoints}, {@code update-percent}, {@code
 * insert-percent}, {@code transfer-threads}, {@code managed-memory-mb}, {@code seed}, {@code dir},
 * {@code warmup} ({@code true}/{@code false}) and {@code keep} (keep the files).
 */
public final class CheckpointBenchmark {

    private static final int MAX_PARALLELISM = 128;
    private static final String STATE_NAME = "values";
    private static final ValueStateDescriptor<byte[]> STATE =
            new ValueStateDescriptor<>(STATE_NAME, BytePrimitiveArraySerializer.INSTANCE);

    private static final String NOT_MEASURED =
            "Flink's EmbeddedRocksDBStateBackend is not measured: it runs on FRocksDB, whose classes"
                    + " share the package org.rocksdb with the upstream rocksdbjni this backend"
                    + " uses, so the two cannot be loaded by one class loader. A Flink cluster keeps"
                    + " them apart with the plugin layout (see README, Install); a single JVM with"
                    + " one class path cannot.";

    /** The backends compared. */
    enum Mode {
        INCREMENTAL("incremental"),
        FULL("full"),
        HEAP("heap");

        final String label;

        Mode(String label) {
            this.label = label;
        }
    }

    /** The workload and where it runs. */
    static final class Settings {
        int keys = 200_000;
        int valueBytes = 100;
        int checkpoints = 10;
        double updatePercent = 1.0;
        double insertPercent = 0.5;
        int transferThreads = 4;
        long managedMemoryMb = 128;
        long seed = 42;
        Path dir;
        boolean warmup = true;
        boolean keep;

        int updatesPerCheckpoint() {
            return (int) Math.round(keys * updatePercent / 100.0);
        }

        int insertsPerCheckpoint() {
            return (int) Math.round(keys * insertPercent / 100.0);
        }

        Settings scaledForWarmup(Path warmupDir) {
            Settings warmup = new Settings();
            warmup.keys = Math.max(1000, keys / 10);
            warmup.valueBytes = valueBytes;
            warmup.checkpoints = Math.min(4, checkpoints);
            warmup.updatePercent = updatePercent;
            warmup.insertPercent = insertPercent;
            warmup.transferThreads = transferThreads;
            warmup.managedMemoryMb = managedMemoryMb;
            warmup.seed = seed + 1;
            warmup.dir = warmupDir;
            return warmup;
        }
    }

    /** One completed checkpoint of one backend. */
    static final class Row {
        final Mode mode;
        final long checkpointId;
        final long stateSize;
        final long checkpointedSize;
        final int reusedFiles;
        final int uploadedFiles;
        final double syncMillis;
        final double asyncMillis;

        Row(
                Mode mode,
                long checkpointId,
                long stateSize,
                long checkpointedSize,
                int reusedFiles,
                int uploadedFiles,
                double syncMillis,
                double asyncMillis) {
            this.mode = mode;
            this.checkpointId = checkpointId;
            this.stateSize = stateSize;
            this.checkpointedSize = checkpointedSize;
            this.reusedFiles = reusedFiles;
            this.uploadedFiles = uploadedFiles;
            this.syncMillis = syncMillis;
            this.asyncMillis = asyncMillis;
        }
    }

    /** The expected contents: a version per key; a value is a function of key and version. */
    static final class Model {
        final long seed;
        final int valueBytes;
        final int[] versions;
        int keyCount;

        Model(Settings settings) {
            this.seed = settings.seed;
            this.valueBytes = settings.valueBytes;
            this.versions =
                    new int
                            [settings.keys
                                    + settings.insertsPerCheckpoint()
                                            * Math.max(0, settings.checkpoints - 1)];
            this.keyCount = settings.keys;
        }

        byte[] value(int key) {
            SplittableRandom random =
                    new SplittableRandom(
                            seed ^ (key * 0x9E3779B97F4A7C15L) ^ ((long) versions[key] << 40));
            byte[] value = new byte[valueBytes];
            for (int i = 0; i < value.length; i += 8) {
                long bits = random.nextLong();
                for (int j = i; j < Math.min(value.length, i + 8); j++) {
                    value[j] = (byte) bits;
                    bits >>>= 8;
                }
            }
            return value;
        }

        /** Updates and inserts keys for the step before checkpoint {@code step + 1}. */
        int[] mutate(int step, int updates, int inserts) {
            Random random = new Random(seed * 31 + step);
            int[] keys = new int[updates + inserts];
            for (int i = 0; i < updates; i++) {
                int key = random.nextInt(keyCount);
                versions[key]++;
                keys[i] = key;
            }
            for (int i = 0; i < inserts; i++) {
                keys[updates + i] = keyCount++;
            }
            return keys;
        }
    }

    /** One backend under test with the JobManager-side bookkeeping of its checkpoints. */
    static final class Run implements AutoCloseable {
        final Mode mode;
        final StateBackend stateBackend;
        final MockEnvironment env;
        final CheckpointStorageAccess storage;
        final Path checkpointDir;
        final SharedStateRegistry registry = new SharedStateRegistryImpl();
        final List<Row> rows = new ArrayList<>();

        CloseableRegistry cancelRegistry;
        AbstractKeyedStateBackend<Integer> backend;
        KeyedStateHandle retained;
        CheckpointStorageLocation retainedLocation;
        double restoreMillis;

        Run(Mode mode, Settings settings, Path root) throws Exception {
            this.mode = mode;
            Path localDir = Files.createDirectories(root.resolve("local"));
            switch (mode) {
                case INCREMENTAL:
                case FULL:
                    this.stateBackend =
                            new IncrementalRocksDBStateBackend(mode == Mode.INCREMENTAL)
                                    .withTransferThreads(settings.transferThreads)
                                    .withLocalDirectories(localDir.toString());
                    break;
                case HEAP:
                    this.stateBackend = new HashMapStateBackend();
                    break;
                default:
                    throw new IllegalArgumentException(mode.name());
            }
            this.env =
                    MockEnvironment.builder()
                            .setManagedMemorySize(settings.managedMemoryMb << 20)
                            .setMaxParallelism(MAX_PARALLELISM)
                            .build();
            this.checkpointDir = Files.createDirectories(root.resolve("checkpoints"));
            this.storage =
                    new FileSystemCheckpointStorage(checkpointDir.toUri())
                            .createCheckpointStorage(new JobID());
            storage.initializeBaseLocationsForCheckpoint();
        }

        void open(Collection<KeyedStateHandle> restoreFrom) throws Exception {
            cancelRegistry = new CloseableRegistry();
            // both backends compared are AbstractKeyedStateBackends, which take notifications
            backend =
                    (AbstractKeyedStateBackend<Integer>)
                            stateBackend.createKeyedStateBackend(
                                    new KeyedStateBackendParametersImpl<>(
                                            env,
                                            env.getJobID(),
                                            "bench-operator",
                                            IntSerializer.INSTANCE,
                                            MAX_PARALLELISM,
                                            new KeyGroupRange(0, MAX_PARALLELISM - 1),
                                            env.getTaskKvStateRegistry(),
                                            TtlTimeProvider.DEFAULT,
                                            new UnregisteredMetricsGroup(),
                                            (name, value) -> {},
                                            restoreFrom,
                                            cancelRegistry,
                                            1.0));
        }

        ValueState<byte[]> state() throws Exception {
            return backend.getPartitionedState(
                    VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, STATE);
        }

        void write(Model model, int from, int to) throws Exception {
            ValueState<byte[]> state = state();
            for (int key = from; key < to; key++) {
                backend.setCurrentKey(key);
                state.update(model.value(key));
            }
        }

        void write(Model model, int[] keys) throws Exception {
            ValueState<byte[]> state = state();
            for (int key : keys) {
                backend.setCurrentKey(key);
                state.update(model.value(key));
            }
        }

        /** Takes checkpoint {@code id} and completes it as the JobManager would. */
        void checkpoint(long id) throws Exception {
            CheckpointStorageLocation location = storage.initializeLocationForCheckpoint(id);

            long start = System.nanoTime();
            RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                    backend.snapshot(
                            id,
                            System.currentTimeMillis(),
                            location,
                            CheckpointOptions.forCheckpointWithDefaultLocation());
            long synchronousEnd = System.nanoTime();
            future.run();
            KeyedStateHandle handle = future.get().getJobManagerOwnedSnapshot();
            long asynchronousEnd = System.nanoTime();
            if (handle == null) {
                throw new IllegalStateException(mode.label + ": checkpoint " + id + " is empty");
            }

            int reused = 0;
            int uploaded = 1;
            if (handle instanceof IncrementalRemoteKeyedStateHandle) {
                IncrementalRemoteKeyedStateHandle incremental =
                        (IncrementalRemoteKeyedStateHandle) handle;
                for (HandleAndLocalPath file : incremental.getSharedState()) {
                    if (file.getHandle() instanceof PlaceholderStreamStateHandle) {
                        reused++;
                    } else {
                        uploaded++;
                    }
                }
                // the meta data stream is counted by the initial 1
                uploaded += incremental.getPrivateState().size();
            }

            // the JobManager: register shared state (resolving placeholders), complete, subsume
            handle.registerSharedStates(registry, id);
            registry.checkpointCompleted(id);
            backend.notifyCheckpointComplete(id);
            if (retained != null) {
                retained.discardState();
                retainedLocation.disposeOnFailure();
            }
            registry.unregisterUnusedState(id);
            retained = handle;
            retainedLocation = location;

            rows.add(
                    new Row(
                            mode,
                            id,
                            handle.getStateSize(),
                            handle.getCheckpointedSize(),
                            reused,
                            uploaded,
                            millis(start, synchronousEnd),
                            millis(synchronousEnd, asynchronousEnd)));
        }

        void disposeBackend() {
            if (backend != null) {
                backend.dispose();
                IOUtils.closeQuietly(backend);
                IOUtils.closeQuietly(cancelRegistry);
                backend = null;
            }
        }

        /** Disposes the backend and times a restore of the retained checkpoint. */
        void restoreLastCheckpoint() throws Exception {
            disposeBackend();
            long start = System.nanoTime();
            open(Collections.singletonList(retained));
            restoreMillis = millis(start, System.nanoTime());
        }

        /** Checks every key and value of the restored backend; returns the number of keys. */
        long verify(Model model) throws Exception {
            long count;
            try (Stream<Integer> keys = backend.getKeys(STATE_NAME, VoidNamespace.INSTANCE)) {
                count = keys.count();
            }
            if (count != model.keyCount) {
                throw new IllegalStateException(
                        mode.label + ": restored " + count + " keys, expected " + model.keyCount);
            }
            ValueState<byte[]> state = state();
            for (int key = 0; key < model.keyCount; key++) {
                backend.setCurrentKey(key);
                if (!Arrays.equals(state.value(), model.value(key))) {
                    throw new IllegalStateException(
                            mode.label + ": wrong value for key " + key + " after restore");
                }
            }
            return count;
        }

        /** Regular files in the checkpoint directory, and how many the retained one refers to. */
        long[] storageFiles() throws IOException {
            Set<String> referenced = new HashSet<>();
            if (retained instanceof IncrementalRemoteKeyedStateHandle) {
                IncrementalRemoteKeyedStateHandle incremental =
                        (IncrementalRemoteKeyedStateHandle) retained;
                for (HandleAndLocalPath file : incremental.getSharedState()) {
                    collectFile(file.getHandle(), referenced);
                }
                for (HandleAndLocalPath file : incremental.getPrivateState()) {
                    collectFile(file.getHandle(), referenced);
                }
                collectFile(incremental.getMetaDataStateHandle(), referenced);
            } else if (retained instanceof KeyGroupsStateHandle) {
                collectFile(((KeyGroupsStateHandle) retained).getDelegateStateHandle(), referenced);
            }
            long onDisk;
            try (Stream<Path> files = Files.walk(checkpointDir)) {
                onDisk = files.filter(Files::isRegularFile).count();
            }
            return new long[] {onDisk, referenced.size()};
        }

        private static void collectFile(StreamStateHandle handle, Set<String> paths) {
            if (handle instanceof FileStateHandle) {
                paths.add(((FileStateHandle) handle).getFilePath().getPath());
            }
        }

        @Override
        public void close() throws Exception {
            disposeBackend();
            env.close();
        }
    }

    public static void main(String[] args) throws Exception {
        Settings settings = parse(args);
        boolean deleteRoot = settings.dir == null;
        Path root =
                settings.dir != null
                        ? Files.createDirectories(settings.dir)
                        : Files.createTempDirectory("checkpoint-bench-");
        settings.dir = root;
        PrintStream out = System.out;
        try {
            if (settings.warmup) {
                Settings warmup = settings.scaledForWarmup(root.resolve("warmup"));
                System.err.printf(
                        Locale.ROOT,
                        "Warm-up: %,d keys, %d checkpoints per backend ...%n",
                        warmup.keys,
                        warmup.checkpoints);
                long start = System.nanoTime();
                execute(warmup);
                FileUtils.deleteDirectory(warmup.dir.toFile());
                System.err.printf(
                        Locale.ROOT,
                        "Warm-up done in %.1f s.%n",
                        millis(start, System.nanoTime()) / 1000);
            }
            System.err.println("Measuring ...");
            long start = System.nanoTime();
            List<Run> runs = execute(settings);
            double seconds = millis(start, System.nanoTime()) / 1000;
            print(out, settings, runs, seconds);
        } finally {
            if (!settings.keep && deleteRoot) {
                FileUtils.deleteDirectory(root.toFile());
            }
        }
    }

    /** Runs the workload on all backends, interleaved step by step; returns them, closed. */
    static List<Run> execute(Settings settings) throws Exception {
        Path root = Files.createDirectories(settings.dir);
        Model model = new Model(settings);
        List<Run> runs = new ArrayList<>();
        try {
            for (Mode mode : Mode.values()) {
                Run run =
                        new Run(mode, settings, Files.createDirectories(root.resolve(mode.label)));
                runs.add(run);
                run.open(Collections.emptyList());
                run.write(model, 0, settings.keys);
            }
            for (int id = 1; id <= settings.checkpoints; id++) {
                int[] changed =
                        id == 1
                                ? new int[0]
                                : model.mutate(
                                        id,
                                        settings.updatesPerCheckpoint(),
                                        settings.insertsPerCheckpoint());
                for (Run run : runs) {
                    run.write(model, changed);
                    run.checkpoint(id);
                }
            }
            for (Run run : runs) {
                run.restoreLastCheckpoint();
                run.verify(model);
            }
        } finally {
            for (Run run : runs) {
                run.close();
            }
        }
        return runs;
    }

    // ------------------------------------------------------------------------
    //  output
    // ------------------------------------------------------------------------

    private static void print(PrintStream out, Settings settings, List<Run> runs, double seconds)
            throws IOException {
        Run incremental = runs.get(Mode.INCREMENTAL.ordinal());
        Run full = runs.get(Mode.FULL.ordinal());
        Run heap = runs.get(Mode.HEAP.ordinal());
        int keysAtEnd =
                settings.keys
                        + settings.insertsPerCheckpoint() * Math.max(0, settings.checkpoints - 1);

        out.println("# Checkpoint benchmark");
        out.println();
        out.printf(
                Locale.ROOT,
                "- workload: one ValueState<byte[]>, %,d int keys with %d-byte random values, %d key"
                        + " groups, one backend over all of them%n",
                settings.keys,
                settings.valueBytes,
                MAX_PARALLELISM);
        out.printf(
                Locale.ROOT,
                "- %d checkpoints; before each one after the first, %,d existing keys updated"
                        + " (%s%%) and %,d new keys inserted (%s%%); %,d keys at the end%n",
                settings.checkpoints,
                settings.updatesPerCheckpoint(),
                trim(settings.updatePercent),
                settings.insertsPerCheckpoint(),
                trim(settings.insertPercent),
                keysAtEnd);
        out.println(
                "- storage: FileSystemCheckpointStorage on the local file system; one checkpoint"
                        + " retained, the one before discarded after each completion, shared state"
                        + " registered with a SharedStateRegistryImpl");
        out.printf(
                Locale.ROOT,
                "- incremental: IncrementalRocksDBStateBackend, state.backend.incremental: true,"
                        + " %d transfer threads%n",
                settings.transferThreads);
        out.println(
                "- full: IncrementalRocksDBStateBackend, state.backend.incremental: false"
                        + " (canonical format)");
        out.println("- heap: Flink's HashMapStateBackend (full snapshots, asynchronous)");
        out.printf(
                Locale.ROOT,
                "- each backend has %d MiB of managed memory; JVM %s, %d processors available%n",
                settings.managedMemoryMb,
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors());
        out.println("- " + NOT_MEASURED);
        out.println();

        out.println("## Checkpoints");
        out.println();
        Table checkpoints =
                new Table(
                        "mode",
                        "checkpoint",
                        "state size (bytes)",
                        "uploaded (bytes)",
                        "reused / uploaded files",
                        "sync (ms)",
                        "async (ms)");
        for (Run run : runs) {
            for (Row row : run.rows) {
                checkpoints.add(
                        row.mode.label,
                        String.valueOf(row.checkpointId),
                        bytes(row.stateSize),
                        bytes(row.checkpointedSize),
                        row.mode == Mode.INCREMENTAL
                                ? row.reusedFiles + " / " + row.uploadedFiles
                                : "-",
                        ms(row.syncMillis),
                        ms(row.asyncMillis));
            }
        }
        checkpoints.print(out);
        out.println();
        out.println(
                "State size: the bytes a checkpoint refers to (KeyedStateHandle.getStateSize())."
                        + " Uploaded: the bytes it wrote (getCheckpointedSize()). Files: SST files"
                        + " referred to from a confirmed earlier checkpoint / files written (new"
                        + " SST files, MANIFEST, CURRENT, OPTIONS, meta data; small ones are kept"
                        + " inline in the handle). Sync: the snapshot(...) call on the task thread;"
                        + " async: running the future it returns.");
        out.println();

        String range = settings.checkpoints > 1 ? "2.." + settings.checkpoints : "1";
        out.printf(
                "## Summary (means over checkpoints %s; restore of checkpoint %d)%n",
                range, settings.checkpoints);
        out.println();
        Table summary =
                new Table(
                        "",
                        "incremental",
                        "full",
                        "heap",
                        "incremental / full",
                        "incremental / heap");
        summaryRow(
                summary,
                "uploaded bytes per checkpoint",
                mean(incremental, r -> r.checkpointedSize),
                mean(full, r -> r.checkpointedSize),
                mean(heap, r -> r.checkpointedSize),
                true);
        summaryRow(
                summary,
                "state size (bytes)",
                mean(incremental, r -> r.stateSize),
                mean(full, r -> r.stateSize),
                mean(heap, r -> r.stateSize),
                true);
        summaryRow(
                summary,
                "sync duration (ms)",
                mean(incremental, r -> r.syncMillis),
                mean(full, r -> r.syncMillis),
                mean(heap, r -> r.syncMillis),
                false);
        summaryRow(
                summary,
                "async duration (ms)",
                mean(incremental, r -> r.asyncMillis),
                mean(full, r -> r.asyncMillis),
                mean(heap, r -> r.asyncMillis),
                false);
        summaryRow(
                summary,
                "restore duration (ms)",
                incremental.restoreMillis,
                full.restoreMillis,
                heap.restoreMillis,
                false);
        summary.print(out);
        out.println();
        out.println("A ratio below 1 means that incremental checkpoints are smaller or faster.");
        out.println();

        out.printf(
                Locale.ROOT,
                "Restore check: every backend restored checkpoint %d with all %,d keys and"
                        + " values.%n",
                settings.checkpoints,
                keysAtEnd);
        List<String> storage = new ArrayList<>();
        for (Run run : runs) {
            long[] files = run.storageFiles();
            storage.add(
                    String.format(
                            Locale.ROOT,
                            "%s %d on disk / %d referenced",
                            run.mode.label,
                            files[0],
                            files[1]));
        }
        out.println(
                "Storage check (files left after the run, and files the retained checkpoint"
                        + " refers to): "
                        + String.join("; ", storage)
                        + ".");
        out.printf(Locale.ROOT, "Measured run: %.1f s.%n", seconds);
    }

    private interface Metric {
        double of(Row row);
    }

    /** Mean over the checkpoints after the first, or the first if there is only one. */
    private static double mean(Run run, Metric metric) {
        List<Row> rows = run.rows.size() > 1 ? run.rows.subList(1, run.rows.size()) : run.rows;
        return rows.stream().mapToDouble(metric::of).average().orElse(Double.NaN);
    }

    private static void summaryRow(
            Table table,
            String name,
            double incremental,
            double full,
            double heap,
            boolean isBytes) {
        table.add(
                name,
                isBytes ? bytes(Math.round(incremental)) : ms(incremental),
                isBytes ? bytes(Math.round(full)) : ms(full),
                isBytes ? bytes(Math.round(heap)) : ms(heap),
                ratio(incremental, full),
                ratio(incremental, heap));
    }

    /** A Markdown table; the first column is left-aligned, the others right-aligned. */
    private static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void add(String... cells) {
            rows.add(cells);
        }

        void print(PrintStream out) {
            int[] widths = new int[rows.get(0).length];
            for (String[] row : rows) {
                for (int i = 0; i < row.length; i++) {
                    widths[i] = Math.max(Math.max(widths[i], row[i].length()), 3);
                }
            }
            for (int r = 0; r < rows.size(); r++) {
                printRow(out, rows.get(r), widths);
                if (r == 0) {
                    String[] rule = new String[widths.length];
                    for (int i = 0; i < widths.length; i++) {
                        rule[i] = "-".repeat(widths[i] - 1) + (i == 0 ? "-" : ":");
                    }
                    printRow(out, rule, widths);
                }
            }
        }

        private static void printRow(PrintStream out, String[] cells, int[] widths) {
            StringBuilder line = new StringBuilder("|");
            for (int i = 0; i < cells.length; i++) {
                String padding = " ".repeat(widths[i] - cells[i].length());
                line.append(' ')
                        .append(i == 0 ? cells[i] + padding : padding + cells[i])
                        .append(" |");
            }
            out.println(line);
        }
    }

    private static String ratio(double numerator, double denominator) {
        if (!(denominator > 0)) {
            return "-";
        }
        double ratio = numerator / denominator;
        return String.format(Locale.ROOT, ratio < 10 ? "%.3f" : "%.1f", ratio);
    }

    private static String bytes(long bytes) {
        return String.format(Locale.ROOT, "%,d", bytes);
    }

    private static String ms(double millis) {
        return String.format(Locale.ROOT, "%.1f", millis);
    }

    private static String trim(double value) {
        return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
    }

    private static double millis(long startNanos, long endNanos) {
        return (endNanos - startNanos) / 1_000_000.0;
    }

    // ------------------------------------------------------------------------
    //  arguments
    // ------------------------------------------------------------------------

    static Settings parse(String[] args) {
        Settings settings = new Settings();
        for (String arg : args) {
            if (!arg.startsWith("--") || !arg.contains("=")) {
                throw new IllegalArgumentException(
                        "Arguments are --name=value, got '" + arg + "'. " + usage());
            }
            String name = arg.substring(2, arg.indexOf('='));
            String value = arg.substring(arg.indexOf('=') + 1);
            switch (name) {
                case "keys":
                    settings.keys = positive(name, Integer.parseInt(value));
                    break;
                case "value-bytes":
                    settings.valueBytes = positive(name, Integer.parseInt(value));
                    break;
                case "checkpoints":
                    settings.checkpoints = positive(name, Integer.parseInt(value));
                    break;
                case "update-percent":
                    settings.updatePercent = Double.parseDouble(value);
                    break;
                case "insert-percent":
                    settings.insertPercent = Double.parseDouble(value);
                    break;
                case "transfer-threads":
                    settings.transferThreads = positive(name, Integer.parseInt(value));
                    break;
                case "managed-memory-mb":
                    settings.managedMemoryMb = positive(name, Integer.parseInt(value));
                    break;
                case "seed":
                    settings.seed = Long.parseLong(value);
                    break;
                case "dir":
                    settings.dir = Paths.get(value).toAbsolutePath();
                    break;
                case "warmup":
                    settings.warmup = Boolean.parseBoolean(value);
                    break;
                case "keep":
                    settings.keep = Boolean.parseBoolean(value);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown option --" + name + ". " + usage());
            }
        }
        if (settings.updatePercent < 0
                || settings.updatePercent > 100
                || settings.insertPercent < 0) {
            throw new IllegalArgumentException("Percentages must be between 0 and 100.");
        }
        return settings;
    }

    private static int positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("--" + name + " must be positive, got " + value);
        }
        return value;
    }

    private static String usage() {
        return Stream.of(
                        "keys",
                        "value-bytes",
                        "checkpoints",
                        "update-percent",
                        "insert-percent",
                        "transfer-threads",
                        "managed-memory-mb",
                        "seed",
                        "dir",
                        "warmup",
                        "keep")
                .map(option -> "--" + option + "=...")
                .collect(Collectors.joining(" ", "Options: ", ""));
    }

    private CheckpointBenchmark() {}
}
