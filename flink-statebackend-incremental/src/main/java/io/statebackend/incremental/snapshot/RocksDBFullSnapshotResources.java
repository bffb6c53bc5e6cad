package io.statebackend.incremental.snapshot;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredStateMetaInfoBase;
import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueStateSnapshot;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.ResourceGuard;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.Snapshot;

import javax.annotation.Nullable;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Everything a canonical-format snapshot reads, captured on the task thread: a RocksDB snapshot
 * (consistent view of all column families), the state meta data, and copies of the heap timer
 * queues. The asynchronous part only reads these.
 */
public final class RocksDBFullSnapshotResources<K> implements FullSnapshotResources<K> {

    /** A column family captured for the snapshot, with its position in the meta data. */
    public static final class CapturedState {
        final ColumnFamilyHandle columnFamily;
        final RegisteredStateMetaInfoBase metaInfo;
        @Nullable final StateSnapshotTransformer<byte[]> transformer;

        public CapturedState(
                ColumnFamilyHandle columnFamily,
                RegisteredStateMetaInfoBase metaInfo,
                @Nullable StateSnapshotTransformer<byte[]> transformer) {
            this.columnFamily = columnFamily;
            this.metaInfo = metaInfo;
            this.transformer = transformer;
        }
    }

    private final ResourceGuard.Lease dbLease;
    private final RocksDB db;
    private final Snapshot snapshot;
    private final List<CapturedState> rocksStates;
    private final List<HeapPriorityQueueStateSnapshot<?>> heapQueues;
    private final List<StateMetaInfoSnapshot> metaInfoSnapshots;
    private final KeyGroupRange keyGroupRange;
    private final TypeSerializer<K> keySerializer;
    private final int keyGroupPrefixBytes;
    private final StreamCompressionDecorator compression;
    private final List<ReadOptions> openReadOptions = new ArrayList<>();
    private boolean released;

    private RocksDBFullSnapshotResources(
            ResourceGuard.Lease dbLease,
            RocksDB db,
            List<CapturedState> rocksStates,
            List<HeapPriorityQueueStateSnapshot<?>> heapQueues,
            KeyGroupRange keyGroupRange,
            TypeSerializer<K> keySerializer,
            int keyGroupPrefixBytes,
            StreamCompressionDecorator compression) {
        this.dbLease = dbLease;
        this.db = db;
        this.snapshot = db.getSnapshot();
        this.rocksStates = rocksStates;
        this.heapQueues = heapQueues;
        this.keyGroupRange = keyGroupRange;
        this.keySerializer = keySerializer;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.compression = compression;
        List<StateMetaInfoSnapshot> metaInfos =
                new ArrayList<>(rocksStates.size() + heapQueues.size());
        for (CapturedState state : rocksStates) {
            metaInfos.add(state.metaInfo.snapshot());
        }
        for (HeapPriorityQueueStateSnapshot<?> queue : heapQueues) {
            metaInfos.add(queue.getMetaInfoSnapshot());
        }
        this.metaInfoSnapshots = Collections.unmodifiableList(metaInfos);
    }

    /**
     * Captures the resources; must run on the task thread. The lease keeps the database open until
     * {@link #release()}.
     */
    public static <K> RocksDBFullSnapshotResources<K> create(
            ResourceGuard resourceGuard,
            RocksDB db,
            List<CapturedState> rocksStates,
            List<HeapPriorityQueueStateSnapshot<?>> heapQueues,
            KeyGroupRange keyGroupRange,
            TypeSerializer<K> keySerializer,
            int keyGroupPrefixBytes,
            StreamCompressionDecorator compression)
            throws IOException {
        ResourceGuard.Lease lease = resourceGuard.acquireResource();
        try {
            return new RocksDBFullSnapshotResources<>(
                    lease,
                    db,
                    rocksStates,
                    heapQueues,
                    keyGroupRange,
                    keySerializer.duplicate(),
                    keyGroupPrefixBytes,
                    compression);
        } catch (Throwable t) {
            lease.close();
            throw t;
        }
    }

    /** The transformer that drops expired entries of a TTL state, if it has one. */
    @Nullable
    public static StateSnapshotTransformer<byte[]> transformerOf(
            RegisteredStateMetaInfoBase metaInfo) {
        if (metaInfo instanceof RegisteredKeyValueStateBackendMetaInfo) {
            return SerializedStateTransformers.forState(
                    (RegisteredKeyValueStateBackendMetaInfo<?, ?>) metaInfo);
        }
        return null;
    }

    @Override
    public List<StateMetaInfoSnapshot> getMetaInfoSnapshots() {
        return metaInfoSnapshots;
    }

    @Override
    public KeyValueStateIterator createKVStateIterator() throws IOException {
        List<SingleStateIterator> iterators = new ArrayList<>(metaInfoSnapshots.size());
        try {
            int stateId = 0;
            for (CapturedState state : rocksStates) {
                ReadOptions readOptions =
                        new ReadOptions().setSnapshot(snapshot).setTotalOrderSeek(true);
                openReadOptions.add(readOptions);
                iterators.add(
                        new RocksDBStateIterator(
                                db.newIterator(state.columnFamily, readOptions),
                                stateId++,
                                keyGroupPrefixBytes,
                                state.transformer));
            }
            for (HeapPriorityQueueStateSnapshot<?> queue : heapQueues) {
                iterators.add(
                        new HeapQueueStateIterator<>(
                                queue, keyGroupRange, keyGroupPrefixBytes, stateId++));
            }
            return new KeyGroupMergeIterator(iterators);
        } catch (Throwable t) {
            for (SingleStateIterator iterator : iterators) {
                IOUtils.closeQuietly(iterator);
            }
            throw new IOException("Could not open the iterators of a snapshot", t);
        }
    }

    @Override
    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

    @Override
    public TypeSerializer<K> getKeySerializer() {
        return keySerializer;
    }

    @Override
    public StreamCompressionDecorator getStreamCompressionDecorator() {
        return compression;
    }

    @Override
    public synchronized void release() {
        if (released) {
            return;
        }
        released = true;
        for (ReadOptions readOptions : openReadOptions) {
            IOUtils.closeQuietly(readOptions);
        }
        db.releaseSnapshot(snapshot);
        snapshot.close();
        dbLease.close();
    }
}
