package io.statebackend.incremental.testutils;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.execution.Environment;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateBackend.CustomInitializationMetrics;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;

/** Creates keyed backends of this project the way a task does, for tests. */
public final class KeyedBackends {

    private KeyedBackends() {}

    /** A new backend with incremental checkpoints over all key groups of the test harness. */
    public static <K> IncrementalRocksDBKeyedStateBackend<K> createEmpty(
            Environment env, Path localDir, TypeSerializer<K> keySerializer) throws Exception {
        return create(
                new IncrementalRocksDBStateBackend(true).withLocalDirectories(localDir.toString()),
                env,
                keySerializer,
                IncrementalTestHarness.MAX_PARALLELISM,
                new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1),
                Collections.emptyList());
    }

    public static <K> IncrementalRocksDBKeyedStateBackend<K> create(
            IncrementalRocksDBStateBackend backend,
            Environment env,
            TypeSerializer<K> keySerializer,
            int numberOfKeyGroups,
            KeyGroupRange keyGroupRange,
            Collection<KeyedStateHandle> stateHandles)
            throws Exception {
        return create(
                backend,
                env,
                keySerializer,
                numberOfKeyGroups,
                keyGroupRange,
                stateHandles,
                1.0,
                new CloseableRegistry());
    }

    public static <K> IncrementalRocksDBKeyedStateBackend<K> create(
            IncrementalRocksDBStateBackend backend,
            Environment env,
            TypeSerializer<K> keySerializer,
            int numberOfKeyGroups,
            KeyGroupRange keyGroupRange,
            Collection<KeyedStateHandle> stateHandles,
            double managedMemoryFraction,
            CloseableRegistry cancelStreamRegistry)
            throws Exception {
        return create(
                backend,
                env,
                "test-operator",
                new UnregisteredMetricsGroup(),
                keySerializer,
                numberOfKeyGroups,
                keyGroupRange,
                stateHandles,
                managedMemoryFraction,
                cancelStreamRegistry);
    }

    /** Creates a backend for the given operator, registering its metrics in {@code metrics}. */
    public static <K> IncrementalRocksDBKeyedStateBackend<K> create(
            IncrementalRocksDBStateBackend backend,
            Environment env,
            String operatorIdentifier,
            MetricGroup metrics,
            TypeSerializer<K> keySerializer,
            int numberOfKeyGroups,
            KeyGroupRange keyGroupRange,
            Collection<KeyedStateHandle> stateHandles,
            double managedMemoryFraction,
            CloseableRegistry cancelStreamRegistry)
            throws Exception {
        return create(
                backend,
                env,
                operatorIdentifier,
                metrics,
                (name, value) -> {},
                keySerializer,
                numberOfKeyGroups,
                keyGroupRange,
                stateHandles,
                managedMemoryFraction,
                cancelStreamRegistry);
    }

    /**
     * Creates a backend for the given operator, registering its metrics in {@code metrics} and
     * reporting its initialization figures to {@code initializationMetrics}.
     */
    public static <K> IncrementalRocksDBKeyedStateBackend<K> create(
            IncrementalRocksDBStateBackend backend,
            Environment env,
            String operatorIdentifier,
            MetricGroup metrics,
            CustomInitializationMetrics initializationMetrics,
            TypeSerializer<K> keySerializer,
            int numberOfKeyGroups,
            KeyGroupRange keyGroupRange,
            Collection<KeyedStateHandle> stateHandles,
            double managedMemoryFraction,
            CloseableRegistry cancelStreamRegistry)
            throws Exception {
        return create(
                backend,
                env,
                operatorIdentifier,
                metrics,
                initializationMetrics,
                keySerializer,
                numberOfKeyGroups,
                keyGroupRange,
                stateHandles,
                managedMemoryFraction,
                cancelStreamRegistry,
                TtlTimeProvider.DEFAULT);
    }

    /** Creates a backend whose TTL states read the time from {@code timeProvider}. */
    public static <K> IncrementalRocksDBKeyedStateBackend<K> create(
            IncrementalRocksDBStateBackend backend,
            Environment env,
            TypeSerializer<K> keySerializer,
            int numberOfKeyGroups,
            TtlTimeProvider timeProvider)
            throws Exception {
        return create(
                backend,
                env,
                "test-operator",
                new UnregisteredMetricsGroup(),
                (name, value) -> {},
                keySerializer,
                numberOfKeyGroups,
                new KeyGroupRange(0, numberOfKeyGroups - 1),
                Collections.emptyList(),
                1.0,
                new CloseableRegistry(),
                timeProvider);
    }

    private static <K> IncrementalRocksDBKeyedStateBackend<K> create(
            IncrementalRocksDBStateBackend backend,
            Environment env,
            String operatorIdentifier,
            MetricGroup metrics,
            CustomInitializationMetrics initializationMetrics,
            TypeSerializer<K> keySerializer,
            int numberOfKeyGroups,
            KeyGroupRange keyGroupRange,
            Collection<KeyedStateHandle> stateHandles,
            double managedMemoryFraction,
            CloseableRegistry cancelStreamRegistry,
            TtlTimeProvider timeProvider)
            throws Exception {
        return (IncrementalRocksDBKeyedStateBackend<K>)
                backend.createKeyedStateBackend(
                        new KeyedStateBackendParametersImpl<>(
                                env,
                                env.getJobID(),
                                operatorIdentifier,
                                keySerializer,
                                numberOfKeyGroups,
                                keyGroupRange,
                                env.getTaskKvStateRegistry(),
                                timeProvider,
                                metrics,
                                initializationMetrics,
                                stateHandles,
                                cancelStreamRegistry,
                                managedMemoryFraction));
    }
}
