package io.statebackend.incremental.bench;

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
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Stream;

/**
 * A checkpoint cost driver: one workload, checkpointed by several backends or settings side by side
 * in one JVM, step by step in turns. {@code tools/bench/checkpoint-bench.sh} runs it once per class
 * path (this backend with upstream RocksDB; Flink's {@code EmbeddedRocksDBStateBackend} with
 * FRocksDB, which shares the package {@code org.rocksdb}) and for several rounds, and then once
 * more with {@code --report} to merge the results into Markdown tables ({@link CheckpointReport}).
 *
 * <p>Each backend is created through the {@link StateBackend} API, as a task creates it, over all
 * key groups of a {@link MockEnvironment}, and loaded with {@code keys} keys of one value state.
 * Then it is checkpointed {@code checkpoints} times; before every checkpoint after the first a
 * share of the keys is updated, new keys are inserted and a share of the keys is read, the same
 * keys for every setup. The bytes changed per checkpoint are what the driver wrote: keys times (4
 * key bytes plus the value bytes). Checkpoints go to a {@link FileSystemCheckpointStorage} on the
 * local file system; after each one the driver does what the JobManager does: it registers the
 * handle's shared state with a {@link SharedStateRegistryImpl}, notifies the backend, and discards
 * the checkpoint before it, so that one checkpoint is retained. Finally each backend is disposed
 * and restored from the last checkpoint, and every key and value is checked.
 *
 * <p>A checkpoint's duration is the {@code snapshot(...)} call plus running the future it returns.
 * Durations and throughput depend on the machine and what else runs on it; compare setups of one
 * run. Not a test: nothing is asserted about time.
 *
 * <p>Options are {@code --name=value}: {@code setup} (repeatable, see {@link CheckpointSetup}),
 * {@code state} ({@code small}: 200,000 keys of 100 bytes; {@code 1g}: 1,000,000 keys of 1,000
 * bytes), {@code keys}, {@code value-bytes}, {@code checkpoints}, {@code update-percent}, {@code
 * insert-percent}, {@code read-percent}, {@code transfer-threads}, {@code managed-memory-mb},
 * {@code seed}, {@code dir}, {@code warmup}, {@code keep}, {@code round}, {@code interval-ms} (a
 * pause after each step's workload, before its checkpoint, as the rest of a checkpoint interval)
 * and {@code out} (append results to this file instead of printing the report), or {@code report}
 * (comma-separated result files: print their report and exit).
 */
public final class CheckpointBenchmark {

    private static final int MAX_PARALLELISM = 128;
    private static final int KEY_BYTES = Integer.BYTES;
    private static final String STATE_NAME = "values";
    private static final ValueStateDescriptor<byte[]> STATE =
            new ValueStateDescriptor<>(STATE_NAME, BytePrimitiveArraySerializer.INSTANCE);

    /** The workload and where it runs. */
    static final class Settings {
        int keys = 200_000;
        int valueBytes = 100;
        int checkpoints = 10;
        double updatePercent = 1.0;
        double insertPercent = 0.5;
        double readPercent = 10.0;
        int transferThreads = 4;
        long managedMemoryMb = 128;
        long seed = 42;
        Path dir;
        boolean warmup = true;
        boolean keep;
        int round = 1;
        long intervalMillis;
        Path out;
        final List<CheckpointSetup> setups = new ArrayList<>();

        int updatesPerCheckpoint() {
            return (int) Math.round(keys * updatePercent / 100.0);
        }

        int insertsPerCheckpoint() {
            return (int) Math.round(keys * insertPercent / 100.0);
        }

        int readsPerCheckpoint() {
            return (int) Math.round(keys * readPercent / 100.0);
        }

        long changedBytesPerCheckpoint() {
            return (long) (updatesPerCheckpoint() + insertsPerCheckpoint())
                    * (KEY_BYTES + valueBytes);
        }

        Settings scaledForWarmup(Path warmupDir) {
            Settings warmup = new Settings();
            warmup.keys = Math.max(1000, keys / 10);
            warmup.valueBytes = valueBytes;
            warmup.checkpoints = Math.min(4, checkpoints);
            warmup.updatePercent = updatePercent;
            warmup.insertPercent = insertPercent;
            warmup.readPercent = readPercent;
            warmup.transferThreads = transferThreads;
            warmup.managedMemoryMb = managedMemoryMb;
            warmup.seed = seed + 1;
            warmup.dir = warmupDir;
            warmup.setups.addAll(setups);
            return warmup;
        }

        /** The workload, for the report. */
        String describe() {
            return String.format(
                    Locale.ROOT,
                    "one ValueState<byte[]>, %,d int keys with %d-byte random values, %d key groups;"
                            + " %d checkpoints, before each after the first %,d keys updated (%s%%),"
                            + " %,d inserted (%s%%) and %,d read (%s%%); %d MiB managed memory per"
                            + " backend; %d transfer threads",
                    keys,
                    valueBytes,
                    MAX_PARALLELISM,
                    checkpoints,
                    updatesPerCheckpoint(),
                    trim(updatePercent),
                    insertsPerCheckpoint(),
                    trim(insertPercent),
                    readsPerCheckpoint(),
                    trim(readPercent),
                    managedMemoryMb,
                    transferThreads);
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

        /** Updates and inserts keys for the step before checkpoint {@code step}. */
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

        /** Existing keys to read before checkpoint {@code step}. */
        int[] reads(int step, int count) {
            Random random = new Random(seed * 17 + step);
            int[] keys = new int[count];
            for (int i = 0; i < count; i++) {
                keys[i] = random.nextInt(keyCount);
            }
            return keys;
        }
    }

    /** One setup under test with the JobManager-side bookkeeping of its checkpoints. */
    static final class Run implements AutoCloseable {
        final CheckpointSetup setup;
        final StateBackend stateBackend;
        final MockEnvironment env;
        final CheckpointStorageAccess storage;
        final SharedStateRegistry registry = new SharedStateRegistryImpl();
        final List<String> results = new ArrayList<>();

        CloseableRegistry cancelRegistry;
        AbstractKeyedStateBackend<Integer> backend;
        KeyedStateHandle retained;
        CheckpointStorageLocation retainedLocation;
        long writeOps;
        long writeNanos;
        long readOps;
        long readNanos;
        long readChecksum;

        Run(CheckpointSetup setup, Settings settings, Path root) throws Exception {
            this.setup = setup;
            this.stateBackend =
                    setup.create(
                            Files.createDirectories(root.resolve("local")),
                            settings.transferThreads);
            this.env =
                    MockEnvironment.builder()
                            .setManagedMemorySize(settings.managedMemoryMb << 20)
                            .setMaxParallelism(MAX_PARALLELISM)
                            .build();
            this.storage =
                    new FileSystemCheckpointStorage(
                                    Files.createDirectories(root.resolve("checkpoints")).toUri())
                            .createCheckpointStorage(new JobID());
            storage.initializeBaseLocationsForCheckpoint();
        }

        @SuppressWarnings("unchecked")
        void open(Collection<KeyedStateHandle> restoreFrom) throws Exception {
            cancelRegistry = new CloseableRegistry();
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

        /** Writes the given values; only the state accesses are timed. */
        void write(int[] keys, byte[][] values) throws Exception {
            ValueState<byte[]> state = state();
            long start = System.nanoTime();
            for (int i = 0; i < keys.length; i++) {
                backend.setCurrentKey(keys[i]);
                state.update(values[i]);
            }
            writeNanos += System.nanoTime() - start;
            writeOps += keys.length;
        }

        void read(int[] keys) throws Exception {
            ValueState<byte[]> state = state();
            long checksum = 0;
            long start = System.nanoTime();
            for (int key : keys) {
                backend.setCurrentKey(key);
                byte[] value = state.value();
                checksum += value == null ? -1 : value[0];
            }
            readNanos += System.nanoTime() - start;
            readOps += keys.length;
            readChecksum += checksum;
        }

        /** Takes checkpoint {@code id} and completes it as the JobManager would. */
        void checkpoint(long id, long changedBytes, int round) throws Exception {
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
                throw new IllegalStateException(setup.label + ": checkpoint " + id + " is empty");
            }

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

            results.add(
                    CheckpointReport.checkpointLine(
                            setup.label,
                            round,
                            id,
                            handle.getStateSize(),
                            handle.getCheckpointedSize(),
                            changedBytes,
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

        /**
         * Records what this backend uploaded ahead of its checkpoints and what of it was discarded
         * (files compacted away before a checkpoint took them over, and those left at the end),
         * then disposes the backend; other backends record nothing.
         */
        void recordUploadsAheadAndDispose(int round) throws Exception {
            Object ahead = uploadAhead();
            long uploadedBefore = ahead == null ? 0 : bytes(ahead, "getUploadedBytes");
            disposeBackend();
            if (ahead != null) {
                results.add(
                        CheckpointReport.aheadLine(
                                setup.label,
                                round,
                                uploadedBefore,
                                bytes(ahead, "getDiscardedBytes")));
            }
        }

        /** This backend's uploads ahead of checkpoints, by reflection (not on Flink's path). */
        private Object uploadAhead() throws Exception {
            try {
                return backend.getClass().getMethod("getUploadAhead").invoke(backend);
            } catch (NoSuchMethodException otherBackend) {
                return null;
            }
        }

        private static long bytes(Object ahead, String getter) throws Exception {
            return (Long) ahead.getClass().getMethod(getter).invoke(ahead);
        }

        /** Disposes the backend, restores the retained checkpoint and checks every key. */
        void restoreAndVerify(Model model, int round) throws Exception {
            recordUploadsAheadAndDispose(round);
            long start = System.nanoTime();
            open(Collections.singletonList(retained));
            double restoreMillis = millis(start, System.nanoTime());
            long count;
            try (Stream<Integer> keys = backend.getKeys(STATE_NAME, VoidNamespace.INSTANCE)) {
                count = keys.count();
            }
            if (count != model.keyCount) {
                throw new IllegalStateException(
                        setup.label + ": restored " + count + " keys, expected " + model.keyCount);
            }
            ValueState<byte[]> state = state();
            for (int key = 0; key < model.keyCount; key++) {
                backend.setCurrentKey(key);
                if (!Arrays.equals(state.value(), model.value(key))) {
                    throw new IllegalStateException(
                            setup.label + ": wrong value for key " + key + " after restore");
                }
            }
            results.add(
                    CheckpointReport.runLine(
                            setup.label,
                            round,
                            writeOps,
                            writeNanos,
                            readOps,
                            readNanos,
                            restoreMillis,
                            count));
        }

        @Override
        public void close() throws Exception {
            disposeBackend();
            env.close();
        }
    }

    public static void main(String[] args) throws Exception {
        Settings settings = parse(args);
        if (settings == null) {
            return;
        }
        boolean deleteRoot = settings.dir == null;
        Path root =
                settings.dir != null
                        ? Files.createDirectories(settings.dir)
                        : Files.createTempDirectory("checkpoint-bench-");
        settings.dir = root;
        try {
            if (settings.warmup) {
                Settings warmup = settings.scaledForWarmup(root.resolve("warmup"));
                System.err.printf(
                        Locale.ROOT,
                        "Warm-up: %,d keys, %d checkpoints per setup ...%n",
                        warmup.keys,
                        warmup.checkpoints);
                execute(warmup);
                FileUtils.deleteDirectory(warmup.dir.toFile());
            }
            System.err.printf(
                    Locale.ROOT,
                    "Round %d: %s ...%n",
                    settings.round,
                    settings.setups.stream()
                            .map(setup -> setup.label)
                            .reduce((a, b) -> a + ", " + b)
                            .orElse(""));
            List<String> lines = new ArrayList<>();
            lines.add(CheckpointReport.workloadLine(settings.describe()));
            for (CheckpointSetup setup : settings.setups) {
                lines.add(CheckpointReport.setupLine(setup.label, setup.describe()));
            }
            for (Run run : execute(settings)) {
                lines.addAll(run.results);
            }
            if (settings.out != null) {
                Files.write(
                        settings.out,
                        lines,
                        StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
            } else {
                CheckpointReport.print(CheckpointReport.Results.of(lines), System.out);
            }
        } finally {
            if (!settings.keep && deleteRoot) {
                FileUtils.deleteDirectory(root.toFile());
            }
        }
    }

    /** Runs the workload on all setups, interleaved step by step; returns them, closed. */
    static List<Run> execute(Settings settings) throws Exception {
        Path root = Files.createDirectories(settings.dir);
        Model model = new Model(settings);
        List<Run> runs = new ArrayList<>();
        try {
            int[] initial = new int[settings.keys];
            for (int key = 0; key < initial.length; key++) {
                initial[key] = key;
            }
            for (CheckpointSetup setup : settings.setups) {
                Run run =
                        new Run(
                                setup,
                                settings,
                                Files.createDirectories(root.resolve(setup.label)));
                runs.add(run);
                run.open(Collections.emptyList());
            }
            int batch = 50_000;
            for (int from = 0; from < settings.keys; from += batch) {
                int[] keys =
                        Arrays.copyOfRange(initial, from, Math.min(settings.keys, from + batch));
                byte[][] values = values(model, keys);
                for (Run run : runs) {
                    run.write(keys, values);
                }
            }
            for (int id = 1; id <= settings.checkpoints; id++) {
                long changedBytes = 0;
                if (id > 1) {
                    int[] changed =
                            model.mutate(
                                    id,
                                    settings.updatesPerCheckpoint(),
                                    settings.insertsPerCheckpoint());
                    byte[][] values = values(model, changed);
                    int[] reads = model.reads(id, settings.readsPerCheckpoint());
                    // rotate the order, so that no setup always goes first
                    for (int i = 0; i < runs.size(); i++) {
                        Run run = runs.get((i + id) % runs.size());
                        run.write(changed, values);
                        run.read(reads);
                    }
                    changedBytes = settings.changedBytesPerCheckpoint();
                    if (settings.intervalMillis > 0) {
                        // the rest of a checkpoint interval: background compactions and uploads
                        // run meanwhile, as between the checkpoints of a job
                        Thread.sleep(settings.intervalMillis);
                    }
                }
                for (Run run : runs) {
                    run.checkpoint(id, changedBytes, settings.round);
                }
            }
            for (Run run : runs) {
                run.restoreAndVerify(model, settings.round);
                run.disposeBackend();
            }
        } finally {
            for (Run run : runs) {
                run.close();
            }
        }
        return runs;
    }

    private static byte[][] values(Model model, int[] keys) {
        byte[][] values = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            values[i] = model.value(keys[i]);
        }
        return values;
    }

    static String trim(double value) {
        return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
    }

    private static double millis(long startNanos, long endNanos) {
        return (endNanos - startNanos) / 1_000_000.0;
    }

    // ------------------------------------------------------------------------
    //  arguments
    // ------------------------------------------------------------------------

    /** Parses the options; prints the report and returns null for {@code --report}. */
    static Settings parse(String[] args) throws Exception {
        Settings settings = new Settings();
        for (String arg : args) {
            if (!arg.startsWith("--") || !arg.contains("=")) {
                throw new IllegalArgumentException(
                        "Arguments are --name=value, got '" + arg + "'.");
            }
            String name = arg.substring(2, arg.indexOf('='));
            String value = arg.substring(arg.indexOf('=') + 1);
            switch (name) {
                case "report":
                    List<Path> files = new ArrayList<>();
                    for (String file : value.split(",")) {
                        files.add(Paths.get(file));
                    }
                    CheckpointReport.print(CheckpointReport.Results.read(files), System.out);
                    return null;
                case "setup":
                    settings.setups.add(CheckpointSetup.parse(value));
                    break;
                case "state":
                    if (value.equals("1g")) {
                        settings.keys = 1_000_000;
                        settings.valueBytes = 1000;
                    } else if (value.equals("small")) {
                        settings.keys = 200_000;
                        settings.valueBytes = 100;
                    } else {
                        throw new IllegalArgumentException("--state is small or 1g");
                    }
                    break;
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
                case "read-percent":
                    settings.readPercent = Double.parseDouble(value);
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
                case "interval-ms":
                    settings.intervalMillis = Long.parseLong(value);
                    if (settings.intervalMillis < 0) {
                        throw new IllegalArgumentException("--interval-ms must not be negative");
                    }
                    break;
                case "round":
                    settings.round = positive(name, Integer.parseInt(value));
                    break;
                case "out":
                    settings.out = Paths.get(value).toAbsolutePath();
                    break;
                default:
                    throw new IllegalArgumentException("Unknown option --" + name);
            }
        }
        if (settings.updatePercent < 0
                || settings.updatePercent > 100
                || settings.insertPercent < 0
                || settings.readPercent < 0) {
            throw new IllegalArgumentException("Percentages must be between 0 and 100.");
        }
        if (settings.setups.isEmpty()) {
            settings.setups.add(CheckpointSetup.parse("incremental:incremental"));
            settings.setups.add(CheckpointSetup.parse("full:full"));
            settings.setups.add(CheckpointSetup.parse("heap:heap"));
        }
        return settings;
    }

    private static int positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("--" + name + " must be positive, got " + value);
        }
        return value;
    }

    private CheckpointBenchmark() {}
}
