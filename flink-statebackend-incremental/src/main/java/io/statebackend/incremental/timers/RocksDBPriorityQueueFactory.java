package io.statebackend.incremental.timers;

import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.KeyExtractorFunction;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.Keyed;
import org.apache.flink.runtime.state.PriorityComparable;
import org.apache.flink.runtime.state.PriorityComparator;
import org.apache.flink.runtime.state.PriorityQueueSetFactory;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.KeyGroupPartitionedPriorityQueue;
import org.apache.flink.util.FlinkRuntimeException;

import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

import javax.annotation.Nonnull;
import javax.annotation.Nullable;

/**
 * Creates timer queues kept in RocksDB: one column family per queue, one cached sub-queue per
 * key-group. The backend registers the column family and checks serializer compatibility.
 */
public final class RocksDBPriorityQueueFactory implements PriorityQueueSetFactory, AutoCloseable {

    /** Registers (or re-registers) the column family of a queue, checking its serializer. */
    public interface QueueRegistry {
        <T> RegisteredRocksDBState registerPriorityQueue(
                String stateName, TypeSerializer<T> elementSerializer, boolean allowUpgrades)
                throws Exception;

        RocksDB getDb();

        org.rocksdb.ReadOptions getReadOptions();

        org.rocksdb.WriteOptions getWriteOptions();
    }

    private final KeyGroupRange keyGroupRange;
    private final int numberOfKeyGroups;
    private final int keyGroupPrefixBytes;
    private final int cacheSize;
    private final QueueRegistry registry;

    /** The writes of all queues created here; created with the first queue. */
    @Nullable private TimerWriteBatch writes;

    public RocksDBPriorityQueueFactory(
            KeyGroupRange keyGroupRange,
            int numberOfKeyGroups,
            int keyGroupPrefixBytes,
            int cacheSize,
            QueueRegistry registry) {
        this.keyGroupRange = keyGroupRange;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.cacheSize = cacheSize;
        this.registry = registry;
    }

    @Nonnull
    @Override
    public <T extends HeapPriorityQueueElement & PriorityComparable<? super T> & Keyed<?>>
            KeyGroupedInternalPriorityQueue<T> create(
                    @Nonnull String stateName,
                    @Nonnull TypeSerializer<T> byteOrderedElementSerializer) {
        return create(stateName, byteOrderedElementSerializer, false);
    }

    @Nonnull
    @Override
    public <T extends HeapPriorityQueueElement & PriorityComparable<? super T> & Keyed<?>>
            KeyGroupedInternalPriorityQueue<T> create(
                    @Nonnull String stateName,
                    @Nonnull TypeSerializer<T> byteOrderedElementSerializer,
                    boolean allowFutureMetadataUpdates) {
        final RegisteredRocksDBState state;
        try {
            state =
                    registry.registerPriorityQueue(
                            stateName, byteOrderedElementSerializer, allowFutureMetadataUpdates);
        } catch (Exception e) {
            throw new FlinkRuntimeException(
                    "Could not register the timer queue '" + stateName + "'", e);
        }
        final RocksDB db = registry.getDb();
        if (writes == null) {
            writes =
                    new TimerWriteBatch(
                            db, registry.getWriteOptions(), TimerWriteBatch.DEFAULT_CAPACITY);
        }
        final TimerWriteBatch queueWrites = writes;
        return new KeyGroupPartitionedPriorityQueue<T, RocksDBPriorityQueueSet<T>>(
                KeyExtractorFunction.forKeyedObjects(),
                PriorityComparator.forPriorityComparableObjects(),
                (keyGroupId, numKeyGroups, keyExtractor, comparator) ->
                        new RocksDBPriorityQueueSet<>(
                                keyGroupId,
                                keyGroupPrefixBytes,
                                db,
                                state.getColumnFamily(),
                                registry.getReadOptions(),
                                queueWrites,
                                byteOrderedElementSerializer.duplicate(),
                                cacheSize),
                keyGroupRange,
                numberOfKeyGroups);
    }

    /**
     * Writes the timers still buffered, so that a snapshot or any other reader of the queues'
     * column families sees them.
     */
    public void flushWrites() throws RocksDBException {
        if (writes != null) {
            writes.flush();
        }
    }

    /** Drops buffered writes and frees the batch; the database is about to be closed. */
    @Override
    public void close() {
        if (writes != null) {
            writes.close();
            writes = null;
        }
    }
}
