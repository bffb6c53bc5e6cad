package io.statebackend.incremental.restore;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.testutils.statemigration.TestType;
import org.apache.flink.util.CloseableIterator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.MAX_PARALLELISM;
import static org.assertj.core.api.Assertions.assertThat;

/** Timers kept in RocksDB by an incremental checkpoint, restored into either timer service. */
class IncrementalTimerRestoreTest {

    private static final String QUEUE = "timers";
    private static final KeyGroupRange ALL = new KeyGroupRange(0, MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private MockEnvironment env;
    private CheckpointStreamFactory factory;
    private final List<IncrementalRocksDBKeyedStateBackend<?>> backends = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        env = MockEnvironment.builder().build();
        factory = TestStreamFactories.files(tempDir.resolve("storage"));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<?> backend : backends) {
            backend.dispose();
        }
        env.close();
    }

    @Test
    void rocksDbTimersAreMovedOntoTheHeapAndClipped() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> source =
                backend(PriorityQueueStateType.ROCKSDB, ALL, Collections.emptyList());
        KeyGroupedInternalPriorityQueue<TestType> queue =
                source.create(QUEUE, new TestType.V1TestTypeSerializer());
        Set<TestType> written = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            TestType timer = new TestType("key-" + i, i);
            queue.add(timer);
            written.add(timer);
        }
        IncrementalRemoteKeyedStateHandle handle =
                IncrementalTestHarness.snapshot(
                        source,
                        1L,
                        factory,
                        org.apache.flink.runtime.checkpoint.CheckpointOptions
                                .forCheckpointWithDefaultLocation());
        handle.registerSharedStates(new SharedStateRegistryImpl(), 1L);

        // same timer service
        assertThat(elements(backend(PriorityQueueStateType.ROCKSDB, ALL, List.of(handle))))
                .isEqualTo(written);

        // onto the heap: the column family is gone, the timers are in the heap queue
        IncrementalRocksDBKeyedStateBackend<Integer> heap =
                backend(PriorityQueueStateType.HEAP, ALL, List.of(handle));
        assertThat(heap.getRegisteredStateNames()).doesNotContain(QUEUE);
        assertThat(elements(heap)).isEqualTo(written);

        // onto the heap of a backend with fewer key groups: only its timers
        KeyGroupRange half = new KeyGroupRange(0, 63);
        Set<TestType> inHalf = new HashSet<>();
        for (TestType timer : written) {
            if (half.contains(
                    KeyGroupRangeAssignment.assignToKeyGroup(timer.getKey(), MAX_PARALLELISM))) {
                inHalf.add(timer);
            }
        }
        assertThat(inHalf).isNotEmpty().hasSizeLessThan(written.size());
        assertThat(elements(backend(PriorityQueueStateType.HEAP, half, List.of(handle))))
                .isEqualTo(inHalf);
        assertThat(elements(backend(PriorityQueueStateType.ROCKSDB, half, List.of(handle))))
                .isEqualTo(inHalf);
    }

    private static Set<TestType> elements(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        Set<TestType> elements = new HashSet<>();
        try (CloseableIterator<TestType> iterator =
                backend.create(QUEUE, new TestType.V1TestTypeSerializer()).iterator()) {
            iterator.forEachRemaining(elements::add);
        }
        return elements;
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> backend(
            PriorityQueueStateType timers,
            KeyGroupRange range,
            Collection<KeyedStateHandle> restoreFrom)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        new IncrementalRocksDBStateBackend(true)
                                .withTimerService(timers)
                                .withLocalDirectories(tempDir.resolve("local").toString()),
                        env,
                        IntSerializer.INSTANCE,
                        MAX_PARALLELISM,
                        range,
                        restoreFrom);
        backends.add(backend);
        return backend;
    }
}
