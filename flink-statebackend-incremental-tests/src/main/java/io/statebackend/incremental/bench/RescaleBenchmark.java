package io.statebackend.incremental.bench;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocation;
import org.apache.flink.runtime.state.ConfigurableStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
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
import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;
import org.apache.flink.streaming.api.operators.TimerSerializer;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.RunnableFuture;

/**
 * A restore and rescaling driver: the same keyed state (value, list and map state and RocksDB
 * timers) checkpointed at parallelism 1, 2 and 3, then restored without rescaling and rescaled 1→2,
 * 2→1, 2→3 and 3→2, several rounds, by one backend per JVM: this backend ({@code
 * --backend=incremental}) or Flink's {@code EmbeddedRocksDBStateBackend} ({@code
 * --backend=flink-rocksdb}). The two cannot share a class path, because FRocksDB and upstream
 * RocksDB both live in the package {@code org.rocksdb}; {@code tools/bench/rescale-bench.sh} runs
 * the driver once per backend and then once more with {@code --report} to print the Markdown table.
 *
 * <p>A restore's time is the sum of the build times of all new subtasks' backends, one after the
 * other, as checkpoints come from local files. After the first round of each case every new backend
 * takes one incremental checkpoint; the bytes uploaded by the largest of them are reported against
 * the state size of the checkpoint restored from. Sampled keys are checked after every restore. Not
 * a test: nothing is asserted about time.
 */
public final class RescaleBenchmark {

    private static final int MAX_PARALLELISM = 128;
    private static final int SAMPLES = 500;

    private static final ValueStateDescriptor<byte[]> VALUE =
            new ValueStateDescriptor<>("value", BytePrimitiveArraySerializer.INSTANCE);
    private static final ListStateDescriptor<Long> LIST =
            new ListStateDescriptor<>("list", LongSerializer.INSTANCE);
    private static final MapStateDescriptor<Integer, Long> MAP =
            new MapStateDescriptor<>("map", IntSerializer.INSTANCE, LongSerializer.INSTANCE);
    private static final String TIMERS = "_timer_state/event_user-timers";

    /** One case: restore from {@code from} subtasks into {@code to}. */
    private static final class Case {
        final String name;
        final int from;
        final int to;

        Case(int from, int to) {
            this.name = from == to ? "restore " + from + "→" + to : from + "→" + to;
            this.from = from;
            this.to = to;
        }
    }

    private static final List<Case> CASES =
            Arrays.asList(
                    new Case(1, 1), new Case(1, 2), new Case(2, 1), new Case(2, 3), new Case(3, 2));

    private final String backendName;
    private final int keys;
    private final int rounds;
    private final int transferThreads;
    private final Path root;
    private final MockEnvironment env;
    private final CheckpointStorageAccess storage;
    private final SharedStateRegistry registry = new SharedStateRegistryImpl();
    private long nextCheckpointId = 1;

    private RescaleBenchmark(Map<String, String> options) throws Exception {
        this.backendName = options.getOrDefault("backend", "incremental");
        this.keys = Integer.parseInt(options.getOrDefault("keys", "2000000"));
        this.rounds = Integer.parseInt(options.getOrDefault("rounds", "3"));
        this.transferThreads = Integer.parseInt(options.getOrDefault("transfer-threads", "4"));
        this.root =
                Files.createDirectories(
                        Paths.get(options.getOrDefault("dir", "/tmp/rescale-bench"))
                                .resolve(backendName));
        FileUtils.cleanDirectory(root.toFile());
        this.env =
                MockEnvironment.builder()
                        .setManagedMemorySize(256L << 20)
                        .setMaxParallelism(MAX_PARALLELISM)
                        .build();
        this.storage =
                new FileSystemCheckpointStorage(
                                Files.createDirectories(root.resolve("checkpoints")).toUri())
                        .createCheckpointStorage(new JobID());
        storage.initializeBaseLocationsForCheckpoint();
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new LinkedHashMap<>();
        for (String arg : args) {
            if (!arg.startsWith("--") || !arg.contains("=")) {
                throw new IllegalArgumentException("Options are --name=value, not " + arg);
            }
            options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
        }
        if (options.containsKey("report")) {
            RescaleReport.print(Arrays.asList(options.get("report").split(",")), System.out);
            return;
        }
        RescaleBenchmark benchmark = new RescaleBenchmark(options);
        try (PrintStream out =
                new PrintStream(
                        Files.newOutputStream(Paths.get(options.getOrDefault("out", "out.tsv"))),
                        true,
                        StandardCharsets.UTF_8.name())) {
            benchmark.run(out);
        } finally {
            benchmark.env.close();
            if (!"true".equals(options.get("keep"))) {
                FileUtils.deleteDirectory(benchmark.root.toFile());
            }
        }
    }

    private void run(PrintStream out) throws Exception {
        final Map<Integer, List<KeyedStateHandle>> layouts = new LinkedHashMap<>();
        final Map<Integer, Long> stateSizes = new LinkedHashMap<>();
        for (int parallelism = 1; parallelism <= 3; parallelism++) {
            long start = System.nanoTime();
            List<KeyedStateHandle> handles = new ArrayList<>();
            long stateSize = 0;
            for (int i = 0; i < parallelism; i++) {
                AbstractKeyedStateBackend<Integer> backend =
                        open(range(parallelism, i), Collections.emptyList());
                try {
                    load(backend, range(parallelism, i));
                    KeyedStateHandle handle = checkpoint(backend);
                    handles.add(handle);
                    stateSize += handle.getStateSize();
                } finally {
                    dispose(backend);
                }
            }
            layouts.put(parallelism, handles);
            stateSizes.put(parallelism, stateSize);
            System.err.printf(
                    Locale.ROOT,
                    "%s: loaded %d keys at parallelism %d in %.1f s, %d bytes%n",
                    backendName,
                    keys,
                    parallelism,
                    (System.nanoTime() - start) / 1e9,
                    stateSize);
        }

        for (int round = 0; round < rounds; round++) {
            for (Case c : CASES) {
                long restoreNanos = 0;
                long firstCheckpointBytes = 0;
                long backgroundNanos = 0;
                for (int j = 0; j < c.to; j++) {
                    KeyGroupRange range = range(c.to, j);
                    List<KeyedStateHandle> from = overlapping(layouts.get(c.from), range);
                    long start = System.nanoTime();
                    AbstractKeyedStateBackend<Integer> backend = open(range, from);
                    restoreNanos += System.nanoTime() - start;
                    try {
                        check(backend, range);
                        if (round == 0) {
                            long awaitStart = System.nanoTime();
                            awaitBackgroundWork(backend);
                            backgroundNanos += System.nanoTime() - awaitStart;
                            KeyedStateHandle first = checkpointWithoutRegistering(backend);
                            firstCheckpointBytes =
                                    Math.max(firstCheckpointBytes, first.getCheckpointedSize());
                            first.discardState();
                        }
                    } finally {
                        dispose(backend);
                    }
                }
                out.printf(
                        Locale.ROOT,
                        "%s\t%s\t%d\t%.1f\t%d\t%d\t%.1f%n",
                        backendName,
                        c.name,
                        round,
                        restoreNanos / 1e6,
                        round == 0 ? firstCheckpointBytes : -1,
                        stateSizes.get(c.from),
                        round == 0 ? backgroundNanos / 1e6 : -1.0);
                System.err.printf(
                        Locale.ROOT,
                        "%s: round %d, %s in %.1f ms%n",
                        backendName,
                        round,
                        c.name,
                        restoreNanos / 1e6);
            }
        }
    }

    // ------------------------------------------------------------------------

    private StateBackend newStateBackend() throws Exception {
        final Path local = Files.createDirectories(root.resolve("local"));
        final Configuration config = new Configuration();
        config.setString("state.backend.incremental", "true");
        config.setString("state.backend.rocksdb.localdir", local.toString());
        config.setString(
                "state.backend.rocksdb.checkpoint.transfer.thread.num",
                String.valueOf(transferThreads));
        config.setString("state.backend.rocksdb.timer-service.factory", "ROCKSDB");
        final String className;
        switch (backendName) {
            case "incremental":
                className = "io.statebackend.incremental.IncrementalRocksDBStateBackend";
                break;
            case "flink-rocksdb":
                className = "org.apache.flink.contrib.streaming.state.EmbeddedRocksDBStateBackend";
                break;
            default:
                throw new IllegalArgumentException("Unknown backend " + backendName);
        }
        // by name: the other backend's classes are not on this JVM's class path
        final Object backend = Class.forName(className).getConstructor().newInstance();
        return ((ConfigurableStateBackend) backend)
                .configure(config, RescaleBenchmark.class.getClassLoader());
    }

    @SuppressWarnings("unchecked")
    private AbstractKeyedStateBackend<Integer> open(
            KeyGroupRange range, List<KeyedStateHandle> restoreFrom) throws Exception {
        return (AbstractKeyedStateBackend<Integer>)
                newStateBackend()
                        .createKeyedStateBackend(
                                new KeyedStateBackendParametersImpl<>(
                                        env,
                                        env.getJobID(),
                                        "bench-operator",
                                        IntSerializer.INSTANCE,
                                        MAX_PARALLELISM,
                                        range,
                                        env.getTaskKvStateRegistry(),
                                        TtlTimeProvider.DEFAULT,
                                        new UnregisteredMetricsGroup(),
                                        (name, value) -> {},
                                        restoreFrom,
                                        new CloseableRegistry(),
                                        1.0));
    }

    /**
     * Waits for what this backend does in the background after rescaling (removing the data of
     * other key groups from the files), so that the first checkpoint shows its effect; Flink's
     * backend has nothing of the kind.
     */
    private static void awaitBackgroundWork(AbstractKeyedStateBackend<Integer> backend)
            throws Exception {
        if (!backend.getClass().getName().startsWith("io.statebackend.incremental.")) {
            return;
        }
        Object instance = backend.getClass().getMethod("getRocksDBInstance").invoke(backend);
        instance.getClass().getMethod("awaitBackgroundWork").invoke(instance);
    }

    private static void dispose(AbstractKeyedStateBackend<Integer> backend) throws Exception {
        backend.dispose();
        IOUtils.closeQuietly(backend);
    }

    private static byte[] valueOf(int key) {
        byte[] value = new byte[24];
        long mixed = key * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) (mixed >>> ((i % 8) * 8) ^ i);
        }
        return value;
    }

    private void load(AbstractKeyedStateBackend<Integer> backend, KeyGroupRange range)
            throws Exception {
        ValueState<byte[]> value =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, VALUE);
        ListState<Long> list =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, LIST);
        MapState<Integer, Long> map =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
        KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Integer, VoidNamespace>> timers =
                backend.create(
                        TIMERS,
                        new TimerSerializer<>(
                                IntSerializer.INSTANCE, VoidNamespaceSerializer.INSTANCE));
        for (int key = 0; key < keys; key++) {
            if (!range.contains(KeyGroupRangeAssignment.assignToKeyGroup(key, MAX_PARALLELISM))) {
                continue;
            }
            backend.setCurrentKey(key);
            value.update(valueOf(key));
            list.add((long) key);
            list.add(key + 1L);
            map.put(key % 7, (long) key);
            timers.add(new TimerHeapInternalTimer<>(key, key, VoidNamespace.INSTANCE));
        }
    }

    /** Checks sampled keys of the range, so that a fast but wrong restore cannot pass. */
    private void check(AbstractKeyedStateBackend<Integer> backend, KeyGroupRange range)
            throws Exception {
        ValueState<byte[]> value =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, VALUE);
        ListState<Long> list =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, LIST);
        MapState<Integer, Long> map =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
        int checked = 0;
        for (int key = 0; key < keys && checked < SAMPLES; key += 1 + keys / (SAMPLES * 4)) {
            if (!range.contains(KeyGroupRangeAssignment.assignToKeyGroup(key, MAX_PARALLELISM))) {
                continue;
            }
            backend.setCurrentKey(key);
            List<Long> elements = new ArrayList<>();
            list.get().forEach(elements::add);
            if (!Arrays.equals(value.value(), valueOf(key))
                    || !elements.equals(Arrays.asList((long) key, key + 1L))
                    || map.get(key % 7) == null
                    || map.get(key % 7) != key) {
                throw new IllegalStateException(
                        backendName + ": wrong state for key " + key + " in " + range);
            }
            checked++;
        }
    }

    private KeyedStateHandle checkpoint(AbstractKeyedStateBackend<Integer> backend)
            throws Exception {
        KeyedStateHandle handle = checkpointWithoutRegistering(backend);
        handle.registerSharedStates(registry, nextCheckpointId - 1);
        return handle;
    }

    private KeyedStateHandle checkpointWithoutRegistering(
            AbstractKeyedStateBackend<Integer> backend) throws Exception {
        long id = nextCheckpointId++;
        CheckpointStorageLocation location = storage.initializeLocationForCheckpoint(id);
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        id,
                        System.currentTimeMillis(),
                        location,
                        CheckpointOptions.forCheckpointWithDefaultLocation());
        future.run();
        return future.get().getJobManagerOwnedSnapshot();
    }

    private static KeyGroupRange range(int parallelism, int index) {
        return KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                MAX_PARALLELISM, parallelism, index);
    }

    private static List<KeyedStateHandle> overlapping(
            List<KeyedStateHandle> handles, KeyGroupRange range) {
        List<KeyedStateHandle> overlapping = new ArrayList<>();
        for (KeyedStateHandle handle : handles) {
            if (handle.getKeyGroupRange().getIntersection(range).getNumberOfKeyGroups() > 0) {
                overlapping.add(handle);
            }
        }
        return overlapping;
    }
}
