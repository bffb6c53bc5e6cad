package io.statebackend.incremental.memory;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * RocksDB's native memory stays within the slot's managed share under a write-heavy load: several
 * states with values of a few KB, many times more bytes than the write buffers hold, and a small
 * share. The figures are RocksDB's own memory properties, read every 64 KB written; the peak of
 * their sum must not exceed the share (DESIGN.md §8).
 *
 * <p>Memtables are charged to the block cache by the write buffer manager, so the cache usage
 * contains them (as reserved, in steps of 256 KB) and they are not added again; the sum is the
 * cache usage plus the memory of the table readers, which is outside the cache. The memtable
 * figures are printed to show what the cache usage is made of.
 *
 * <p>With write buffers of a fixed size per column family (an eighth of the share, at least 1 MB),
 * the memtables of these loads grew to 1.5 to 4 times the share: the write buffer manager cannot
 * flush column families whose flush is still pending, so each one filled its own buffers (figures
 * in docs/decisions.md, Memory).
 */
class ManagedMemoryUnderLoadTest {

    private static final int MAX_PARALLELISM = 128;
    private static final int VALUE_SIZE = 4096;
    private static final int SAMPLE_EVERY_WRITES = 16;

    @TempDir Path tempDir;

    @Test
    void eightStatesIn16MB() throws Exception {
        measure(16L << 20, 1, 8, 128L << 20);
    }

    @Test
    void thirtyTwoStatesIn32MB() throws Exception {
        measure(32L << 20, 1, 32, 256L << 20);
    }

    /** Two operators of one slot share one cache and one write buffer budget. */
    @Test
    void twoBackendsOf16StatesShare16MB() throws Exception {
        measure(16L << 20, 2, 16, 128L << 20);
    }

    private void measure(long share, int backends, int statesPerBackend, long bytesToWrite)
            throws Exception {
        // each backend asks for its fraction of the slot: together they get the share once
        try (MockEnvironment env =
                MockEnvironment.builder().setManagedMemorySize(share * backends).build()) {
            List<IncrementalRocksDBKeyedStateBackend<Integer>> created = new ArrayList<>();
            try {
                List<ValueState<byte[]>> states = new ArrayList<>();
                List<IncrementalRocksDBKeyedStateBackend<Integer>> owners = new ArrayList<>();
                for (int b = 0; b < backends; b++) {
                    IncrementalRocksDBKeyedStateBackend<Integer> backend =
                            KeyedBackends.create(
                                    new IncrementalRocksDBStateBackend(true)
                                            .withLocalDirectories(
                                                    tempDir.resolve("local").toString()),
                                    env,
                                    IntSerializer.INSTANCE,
                                    MAX_PARALLELISM,
                                    new KeyGroupRange(0, MAX_PARALLELISM - 1),
                                    Collections.emptyList(),
                                    1.0 / backends,
                                    new CloseableRegistry());
                    created.add(backend);
                    for (int i = 0; i < statesPerBackend; i++) {
                        states.add(
                                backend.getPartitionedState(
                                        VoidNamespace.INSTANCE,
                                        VoidNamespaceSerializer.INSTANCE,
                                        new ValueStateDescriptor<>(
                                                "state-" + i,
                                                BytePrimitiveArraySerializer.INSTANCE)));
                        owners.add(backend);
                    }
                }
                RocksDBMemoryResources memory = created.get(0).getMemoryResources();
                assertThat(memory).isNotNull();
                assertThat(memory.getShare()).isEqualTo(share);
                for (IncrementalRocksDBKeyedStateBackend<Integer> backend : created) {
                    assertThat(backend.getMemoryResources()).isSameAs(memory);
                }

                Peaks peaks = new Peaks();
                Random random = new Random(42);
                byte[] value = new byte[VALUE_SIZE];
                long written = 0;
                int key = 0;
                int writes = 0;
                while (written < bytesToWrite) {
                    for (IncrementalRocksDBKeyedStateBackend<Integer> backend : created) {
                        backend.setCurrentKey(key);
                    }
                    key++;
                    for (int i = 0; i < states.size(); i++) {
                        random.nextBytes(value);
                        states.get(i).update(value);
                        written += VALUE_SIZE;
                        if (++writes % SAMPLE_EVERY_WRITES == 0) {
                            peaks.sample(created);
                        }
                    }
                }
                peaks.sample(created);

                System.out.printf(
                        "ManagedMemoryUnderLoadTest: share=%d cache-capacity=%d"
                                + " write-buffer-manager=%d write-buffer-size=%d backends=%d"
                                + " states=%d value=%d written=%d samples=%d%n",
                        share,
                        memory.getCapacity(),
                        memory.getWriteBufferManagerCapacity(),
                        memory.getWriteBufferSize(),
                        backends,
                        states.size(),
                        VALUE_SIZE,
                        written,
                        peaks.samples);
                System.out.printf("ManagedMemoryUnderLoadTest: peaks %s%n", peaks);
                assertThat(peaks.total)
                        .as("peak of block cache usage + table readers (bytes), share %d", share)
                        .isLessThanOrEqualTo(share);
            } finally {
                for (IncrementalRocksDBKeyedStateBackend<Integer> backend : created) {
                    backend.dispose();
                }
            }
        }
    }

    /** The peak of each property over all samples, and of their sum. */
    private static final class Peaks {
        long cacheUsage;
        long cachePinned;
        long curMemTables;
        long allMemTables;
        long tableReaders;
        long total;
        long samples;

        void sample(List<IncrementalRocksDBKeyedStateBackend<Integer>> backends)
                throws RocksDBException {
            long usage = 0;
            long pinned = 0;
            long cur = 0;
            long all = 0;
            long readers = 0;
            for (IncrementalRocksDBKeyedStateBackend<Integer> backend : backends) {
                RocksDB db = backend.getRocksDBInstance().getDb();
                // one cache for all column families and all backends: read once, not summed
                usage = db.getLongProperty("rocksdb.block-cache-usage");
                pinned = db.getLongProperty("rocksdb.block-cache-pinned-usage");
                cur += db.getAggregatedLongProperty("rocksdb.cur-size-all-mem-tables");
                all += db.getAggregatedLongProperty("rocksdb.size-all-mem-tables");
                readers += db.getAggregatedLongProperty("rocksdb.estimate-table-readers-mem");
            }
            cacheUsage = Math.max(cacheUsage, usage);
            cachePinned = Math.max(cachePinned, pinned);
            curMemTables = Math.max(curMemTables, cur);
            allMemTables = Math.max(allMemTables, all);
            tableReaders = Math.max(tableReaders, readers);
            total = Math.max(total, usage + readers);
            samples++;
        }

        @Override
        public String toString() {
            return "block-cache-usage="
                    + cacheUsage
                    + " block-cache-pinned-usage="
                    + cachePinned
                    + " cur-size-all-mem-tables="
                    + curMemTables
                    + " size-all-mem-tables="
                    + allMemTables
                    + " estimate-table-readers-mem="
                    + tableReaders
                    + " total(cache-usage+table-readers)="
                    + total;
        }
    }
}
