package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.ConfigurableStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.FileUtils;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/**
 * A keyed state backend for the benchmarks, created through Flink's {@link StateBackend} API as a
 * task creates it: {@code incremental} (this backend), {@code rocksdb} (Flink's
 * EmbeddedRocksDBStateBackend) or {@code hashmap}. Both RocksDB backends get the same configuration
 * and the same budget of managed memory from the environment's memory manager.
 *
 * <p>The backends are loaded by class name: Flink's RocksDB backend runs on FRocksDB, which shares
 * the package {@code org.rocksdb} with the upstream RocksDB of this backend, so a JVM has only one
 * of the two on its class path.
 */
public final class BenchmarkBackend implements AutoCloseable {

    public static final String INCREMENTAL = "incremental";
    public static final String FLINK_ROCKSDB = "rocksdb";
    public static final String HASHMAP = "hashmap";

    static final int MAX_PARALLELISM = 128;
    static final long MANAGED_MEMORY_BYTES = 256L << 20;

    private final String name;
    private final Path dir;
    private final MockEnvironment env;
    private final AbstractKeyedStateBackend<Long> keyedBackend;

    private BenchmarkBackend(String name) throws Exception {
        this.name = name;
        this.dir = Files.createTempDirectory("state-bench-" + name + "-");
        this.env =
                MockEnvironment.builder()
                        .setManagedMemorySize(MANAGED_MEMORY_BYTES)
                        .setMaxParallelism(MAX_PARALLELISM)
                        .build();
        this.keyedBackend = createKeyedBackend(stateBackend(name, dir), env);
    }

    public static BenchmarkBackend open(String name) throws Exception {
        return new BenchmarkBackend(name);
    }

    public AbstractKeyedStateBackend<Long> keyed() {
        return keyedBackend;
    }

    /**
     * Compacts the given states of a RocksDB backend (a no-op for the hashmap backend), so that a
     * measurement starts from the same shape of data for both RocksDB backends instead of running
     * while the compactions that the preload triggered are still going on.
     */
    public void compact(Collection<StateDescriptor<?, ?>> states) throws Exception {
        switch (name) {
            case INCREMENTAL:
                List<String> names = new ArrayList<>();
                for (StateDescriptor<?, ?> state : states) {
                    names.add(state.getName());
                }
                IncrementalCompaction.compact(keyedBackend, names);
                break;
            case FLINK_ROCKSDB:
                // by reflection: Flink's backend is not on the class path this is compiled with
                Method compactState =
                        keyedBackend.getClass().getMethod("compactState", StateDescriptor.class);
                for (StateDescriptor<?, ?> state : states) {
                    compactState.invoke(keyedBackend, state);
                }
                break;
            default:
                break;
        }
    }

    @Override
    public void close() throws Exception {
        try {
            keyedBackend.dispose();
        } finally {
            env.close();
            FileUtils.deleteDirectory(dir.toFile());
        }
    }

    private static StateBackend stateBackend(String name, Path dir) throws Exception {
        final Configuration config = new Configuration();
        config.setString("state.backend.incremental", "true");
        config.setString("state.backend.rocksdb.localdir", dir.resolve("local").toString());
        config.setString("state.backend.rocksdb.timer-service.factory", "ROCKSDB");
        final String className;
        switch (name) {
            case INCREMENTAL:
                className = "io.statebackend.incremental.IncrementalRocksDBStateBackend";
                break;
            case FLINK_ROCKSDB:
                className = "org.apache.flink.contrib.streaming.state.EmbeddedRocksDBStateBackend";
                break;
            case HASHMAP:
                className = "org.apache.flink.runtime.state.hashmap.HashMapStateBackend";
                break;
            default:
                throw new IllegalArgumentException(
                        "Unknown backend '"
                                + name
                                + "', expected one of incremental, rocksdb, hashmap");
        }
        final Object backend = Class.forName(className).getConstructor().newInstance();
        return ((ConfigurableStateBackend) backend)
                .configure(config, BenchmarkBackend.class.getClassLoader());
    }

    @SuppressWarnings("unchecked")
    private static AbstractKeyedStateBackend<Long> createKeyedBackend(
            StateBackend stateBackend, MockEnvironment env) throws Exception {
        return (AbstractKeyedStateBackend<Long>)
                stateBackend.createKeyedStateBackend(
                        new KeyedStateBackendParametersImpl<>(
                                env,
                                env.getJobID(),
                                "state-benchmark",
                                LongSerializer.INSTANCE,
                                MAX_PARALLELISM,
                                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                                env.getTaskKvStateRegistry(),
                                TtlTimeProvider.DEFAULT,
                                new UnregisteredMetricsGroup(),
                                (name, value) -> {},
                                Collections.emptyList(),
                                new CloseableRegistry(),
                                // the whole managed memory of the slot, as for a single operator
                                1.0));
    }
}
