package io.statebackend.incremental.memory;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;
import io.statebackend.incremental.rocksdb.options.OptionsFile;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RocksDB's memory comes from the slot's managed memory: the block cache is the operator's share of
 * it less a small reserve for table readers, write buffers are charged to that cache and sized so
 * that the memtables of all column families fit the write buffer budget, and all backends of a slot
 * share one cache (DESIGN.md §8).
 */
class ManagedMemorySizingTest {

    private static final long MANAGED_MEMORY = 64L << 20;
    private static final int MAX_PARALLELISM = 16;
    private static final String BLOCK_CACHE_CAPACITY = "rocksdb.block-cache-capacity";

    @TempDir Path tempDir;

    private MockEnvironment env;

    @BeforeEach
    void setUp() {
        env = MockEnvironment.builder().setManagedMemorySize(MANAGED_MEMORY).build();
    }

    @AfterEach
    void tearDown() throws Exception {
        // fails if a backend did not give its managed memory back
        env.close();
    }

    private IncrementalRocksDBStateBackend stateBackend() {
        return new IncrementalRocksDBStateBackend()
                .withLocalDirectories(tempDir.resolve("local").toString());
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> create(
            IncrementalRocksDBStateBackend stateBackend, double managedMemoryFraction)
            throws Exception {
        return KeyedBackends.create(
                stateBackend,
                env,
                IntSerializer.INSTANCE,
                MAX_PARALLELISM,
                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                Collections.emptyList(),
                managedMemoryFraction,
                new CloseableRegistry());
    }

    /** Registers a state (a column family) and writes to it; returns its column family. */
    private static ColumnFamilyHandle writeSomeState(
            IncrementalRocksDBKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<String> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE,
                        new ValueStateDescriptor<>("value", StringSerializer.INSTANCE));
        for (int key = 0; key < 100; key++) {
            backend.setCurrentKey(key);
            state.update("v" + key);
        }
        return backend.getColumnFamily("value");
    }

    private static long nativeBlockCacheCapacity(RocksDB db, ColumnFamilyHandle columnFamily)
            throws RocksDBException {
        return Long.parseLong(db.getProperty(columnFamily, BLOCK_CACHE_CAPACITY).trim());
    }

    /** The cache capacity for a share: the share less the reserve for table readers. */
    private static long cacheCapacity(long share) {
        return share - share / 32;
    }

    private static void assertNativeCapacity(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            ColumnFamilyHandle stateColumnFamily,
            long expected)
            throws RocksDBException {
        RocksDBInstance instance = backend.getRocksDBInstance();
        RocksDB db = instance.getDb();
        assertThat(nativeBlockCacheCapacity(db, instance.getDefaultColumnFamily()))
                .as("native block cache capacity of the default column family")
                .isEqualTo(expected);
        assertThat(nativeBlockCacheCapacity(db, stateColumnFamily))
                .as("native block cache capacity of a state's column family")
                .isEqualTo(expected);
    }

    @Test
    void cacheIsTheOperatorsShareOfManagedMemory() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = create(stateBackend(), 0.5);
        try {
            RocksDBMemoryResources memory = backend.getMemoryResources();
            assertThat(memory).isNotNull();
            long share = MANAGED_MEMORY / 2;
            assertThat(memory.getShare()).isEqualTo(share);
            assertThat(memory.getCapacity()).isEqualTo(cacheCapacity(share));
            assertThat(memory.getWriteBufferManagerCapacity())
                    .isEqualTo((long) (share * 0.5))
                    .isEqualTo((long) (share * backend.getSettings().getWriteBufferRatio()));
            assertThat(env.getMemoryManager().availableMemory())
                    .as("the share is reserved from the slot's managed memory")
                    .isEqualTo(MANAGED_MEMORY - share);

            assertNativeCapacity(backend, writeSomeState(backend), cacheCapacity(share));
        } finally {
            backend.dispose();
        }
        assertThat(env.getMemoryManager().availableMemory()).isEqualTo(MANAGED_MEMORY);
    }

    @Test
    void writeBufferRatioIsApplied() throws Exception {
        IncrementalRocksDBStateBackend stateBackend =
                stateBackend()
                        .withSetting(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO.key(), "0.25");
        IncrementalRocksDBKeyedStateBackend<Integer> backend = create(stateBackend, 1.0);
        try {
            RocksDBMemoryResources memory = backend.getMemoryResources();
            assertThat(memory.getCapacity()).isEqualTo(cacheCapacity(MANAGED_MEMORY));
            assertThat(memory.getWriteBufferManagerCapacity()).isEqualTo(MANAGED_MEMORY / 4);
            assertNativeCapacity(backend, writeSomeState(backend), cacheCapacity(MANAGED_MEMORY));
        } finally {
            backend.dispose();
        }
    }

    @Test
    void backendsOfOneSlotShareOneCache() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> first = create(stateBackend(), 0.5);
        IncrementalRocksDBKeyedStateBackend<Integer> second = null;
        try {
            second = create(stateBackend(), 0.5);
            long share = MANAGED_MEMORY / 2;

            assertThat(second.getMemoryResources()).isSameAs(first.getMemoryResources());
            assertThat(second.getMemoryResources().getShare()).isEqualTo(share);
            assertThat(env.getMemoryManager().availableMemory())
                    .as("the shared cache is reserved once, not per backend")
                    .isEqualTo(MANAGED_MEMORY - share);
            assertNativeCapacity(first, writeSomeState(first), cacheCapacity(share));
            assertNativeCapacity(second, writeSomeState(second), cacheCapacity(share));

            // the cache outlives the first backend and stays usable by the second
            first.dispose();
            assertThat(env.getMemoryManager().availableMemory()).isEqualTo(MANAGED_MEMORY - share);
            ColumnFamilyHandle columnFamily = writeSomeState(second);
            assertNativeCapacity(second, columnFamily, cacheCapacity(share));
            second.setCurrentKey(7);
            assertThat(
                            second.getPartitionedState(
                                            VoidNamespace.INSTANCE,
                                            VoidNamespaceSerializer.INSTANCE,
                                            new ValueStateDescriptor<>(
                                                    "value", StringSerializer.INSTANCE))
                                    .value())
                    .isEqualTo("v7");
        } finally {
            first.dispose();
            if (second != null) {
                second.dispose();
            }
        }
        // the last lease gives the memory back
        assertThat(env.getMemoryManager().availableMemory()).isEqualTo(MANAGED_MEMORY);
    }

    @Test
    void writeBuffersShrinkAsColumnFamiliesOfTheSlotGrow() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> first = create(stateBackend(), 0.5);
        IncrementalRocksDBKeyedStateBackend<Integer> second = null;
        try {
            RocksDBMemoryResources memory = first.getMemoryResources();
            long budget = memory.getWriteBufferManagerCapacity();
            registerStates(first, 4);
            long forFour = memory.getWriteBufferSize();
            assertThat(forFour * 2.5 * 4).isLessThanOrEqualTo(budget);
            assertNativeWriteBuffers(first, 4, forFour);

            // a second operator of the slot: the first one's buffers shrink for both to fit
            second = create(stateBackend(), 0.5);
            registerStates(second, 12);
            long forSixteen = memory.getWriteBufferSize();
            assertThat(forSixteen).isLessThan(forFour);
            assertThat(forSixteen * 2.5 * 16).isLessThanOrEqualTo(budget);
            assertNativeWriteBuffers(first, 4, forSixteen);
            assertNativeWriteBuffers(second, 12, forSixteen);

            // and grow back when it is gone
            second.dispose();
            assertThat(memory.getWriteBufferSize()).isEqualTo(forFour);
            assertNativeWriteBuffers(first, 4, forFour);
            first.setCurrentKey(3);
            writeSomeState(first);
        } finally {
            first.dispose();
            if (second != null) {
                second.dispose();
            }
        }
    }

    private static void registerStates(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            backend.getPartitionedState(
                    VoidNamespace.INSTANCE,
                    VoidNamespaceSerializer.INSTANCE,
                    new ValueStateDescriptor<>("state-" + i, StringSerializer.INSTANCE));
        }
    }

    /**
     * Checks the options RocksDB runs with, as it persists them in its newest OPTIONS file (the
     * Java API cannot read them back: it fails on the merge operator's delimiter).
     */
    private static void assertNativeWriteBuffers(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, int states, long expected)
            throws IOException {
        OptionsFile newest = OptionsFile.newestIn(backend.getRocksDBInstance().getPath());
        for (int i = 0; i < states; i++) {
            String section = OptionsFile.columnFamily("state-" + i);
            assertThat(Long.parseLong(newest.get(section, "write_buffer_size")))
                    .as("native write buffer size of state-%d", i)
                    .isEqualTo(expected);
            assertThat(Long.parseLong(newest.get(section, "arena_block_size")))
                    .as("native arena block size of state-%d", i)
                    .isLessThanOrEqualTo(expected / 8 + 4096);
            assertThat(newest.get(section, "max_write_buffer_number")).isEqualTo("2");
        }
    }

    @Test
    void fixedPerSlotOverridesManagedMemory() throws Exception {
        IncrementalRocksDBStateBackend stateBackend =
                stateBackend().withFixedMemoryPerSlot(MemorySize.parse("16mb"));
        IncrementalRocksDBKeyedStateBackend<Integer> first = create(stateBackend, 0.5);
        IncrementalRocksDBKeyedStateBackend<Integer> second = null;
        try {
            long fixed = 16L << 20;
            assertThat(first.getMemoryResources().getShare()).isEqualTo(fixed);
            assertThat(first.getMemoryResources().getWriteBufferManagerCapacity())
                    .isEqualTo(fixed / 2);
            assertNativeCapacity(first, writeSomeState(first), cacheCapacity(fixed));
            assertThat(env.getMemoryManager().availableMemory())
                    .as("fixed-per-slot memory is not taken from managed memory")
                    .isEqualTo(MANAGED_MEMORY);

            second = create(stateBackend, 1.0);
            assertThat(second.getMemoryResources()).isSameAs(first.getMemoryResources());
            assertNativeCapacity(second, writeSomeState(second), cacheCapacity(fixed));
        } finally {
            first.dispose();
            if (second != null) {
                second.dispose();
            }
        }
    }

    @Test
    void fixedPerSlotFromConfiguration() throws Exception {
        Configuration config = new Configuration();
        config.set(IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE, MemorySize.parse("16mb"));
        IncrementalRocksDBStateBackend stateBackend =
                stateBackend().configure(config, getClass().getClassLoader());
        IncrementalRocksDBKeyedStateBackend<Integer> backend = create(stateBackend, 0.5);
        try {
            assertThat(backend.getMemoryResources().getShare()).isEqualTo(16L << 20);
            assertNativeCapacity(backend, writeSomeState(backend), cacheCapacity(16L << 20));
        } finally {
            backend.dispose();
        }
    }

    @Test
    void unmanagedMemoryHasNoSharedResources() throws Exception {
        Configuration config = new Configuration();
        config.set(IncrementalRocksDBOptions.USE_MANAGED_MEMORY, false);
        IncrementalRocksDBStateBackend stateBackend =
                stateBackend().configure(config, getClass().getClassLoader());
        IncrementalRocksDBKeyedStateBackend<Integer> backend = create(stateBackend, 0.5);
        try {
            assertThat(backend.getMemoryResources()).isNull();
            assertThat(env.getMemoryManager().availableMemory()).isEqualTo(MANAGED_MEMORY);
            // still a working database, with RocksDB's own default cache
            ColumnFamilyHandle columnFamily = writeSomeState(backend);
            assertThat(nativeBlockCacheCapacity(backend.getRocksDBInstance().getDb(), columnFamily))
                    .isPositive();
        } finally {
            backend.dispose();
        }
    }

    @Test
    void zeroManagedMemoryFractionHasNoSharedResources() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = create(stateBackend(), 0.0);
        try {
            assertThat(backend.getMemoryResources()).isNull();
            assertThat(env.getMemoryManager().availableMemory()).isEqualTo(MANAGED_MEMORY);
        } finally {
            backend.dispose();
        }
    }
}
