package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;

import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.StateSerializerProvider;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.runtime.state.restore.FullSnapshotRestoreOperation;
import org.apache.flink.runtime.state.restore.KeyGroup;
import org.apache.flink.runtime.state.restore.KeyGroupEntry;
import org.apache.flink.runtime.state.restore.SavepointRestoreResult;
import org.apache.flink.runtime.state.restore.ThrowingIterator;
import org.apache.flink.util.StateMigrationException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

import javax.annotation.Nullable;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Restores state from Flink's canonical key-group format, written by this backend, by Flink's
 * RocksDB backend or by the heap backend. Entries are written in batches into the column family of
 * their state; timers go into RocksDB or onto the heap, as configured now, whatever they were when
 * written.
 */
public final class RocksDBFullRestoreOperation<K> {

    private final KeyGroupRange keyGroupRange;
    private final int numberOfKeyGroups;
    private final int keyGroupPrefixBytes;
    private final ClassLoader userCodeClassLoader;
    private final Collection<KeyedStateHandle> stateHandles;
    private final StateSerializerProvider<K> keySerializerProvider;
    private final RocksDBInstance instance;
    private final Map<String, RegisteredRocksDBState> registeredStates;
    @Nullable private final Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues;
    private final long writeBatchSize;

    public RocksDBFullRestoreOperation(
            KeyGroupRange keyGroupRange,
            int numberOfKeyGroups,
            int keyGroupPrefixBytes,
            ClassLoader userCodeClassLoader,
            Collection<KeyedStateHandle> stateHandles,
            StateSerializerProvider<K> keySerializerProvider,
            RocksDBInstance instance,
            Map<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues,
            long writeBatchSize) {
        this.keyGroupRange = keyGroupRange;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.userCodeClassLoader = userCodeClassLoader;
        this.stateHandles = stateHandles;
        this.keySerializerProvider = keySerializerProvider;
        this.instance = instance;
        this.registeredStates = registeredStates;
        this.heapQueues = heapQueues;
        this.writeBatchSize = writeBatchSize;
    }

    /** Where the entries of one state id of the snapshot go. */
    private interface Target {
        void add(byte[] key, byte[] value, WriteBatch batch) throws IOException, RocksDBException;
    }

    public void restore() throws Exception {
        FullSnapshotRestoreOperation<K> reader =
                new FullSnapshotRestoreOperation<>(
                        keyGroupRange, userCodeClassLoader, stateHandles, keySerializerProvider);
        try (ThrowingIterator<SavepointRestoreResult> results = reader.restore();
                WriteBatch batch = new WriteBatch()) {
            while (results.hasNext()) {
                SavepointRestoreResult result = results.next();
                List<Target> targets = registerStates(result.getStateMetaInfoSnapshots());
                try (ThrowingIterator<KeyGroup> keyGroups = result.getRestoredKeyGroups()) {
                    while (keyGroups.hasNext()) {
                        KeyGroup keyGroup = keyGroups.next();
                        try (ThrowingIterator<KeyGroupEntry> entries =
                                keyGroup.getKeyGroupEntries()) {
                            while (entries.hasNext()) {
                                KeyGroupEntry entry = entries.next();
                                targets.get(entry.getKvStateId())
                                        .add(entry.getKey(), entry.getValue(), batch);
                                if (writeBatchSize > 0 && batch.getDataSize() >= writeBatchSize) {
                                    flush(batch);
                                }
                            }
                        }
                    }
                }
                flush(batch);
            }
        }
    }

    private void flush(WriteBatch batch) throws RocksDBException {
        if (batch.count() > 0) {
            instance.getDb().write(instance.getWriteOptions(), batch);
            batch.clear();
        }
    }

    private List<Target> registerStates(List<StateMetaInfoSnapshot> metaInfos)
            throws IOException, StateMigrationException {
        List<Target> targets = new ArrayList<>(metaInfos.size());
        for (StateMetaInfoSnapshot metaInfo : metaInfos) {
            switch (metaInfo.getBackendStateType()) {
                case KEY_VALUE:
                    targets.add(
                            columnFamilyTarget(
                                    metaInfo,
                                    new RegisteredKeyValueStateBackendMetaInfo<>(metaInfo)));
                    break;
                case PRIORITY_QUEUE:
                    RegisteredPriorityQueueStateBackendMetaInfo<?> queueInfo =
                            new RegisteredPriorityQueueStateBackendMetaInfo<>(metaInfo);
                    targets.add(
                            heapQueues != null
                                    ? heapTarget(queueInfo)
                                    : columnFamilyTarget(metaInfo, queueInfo));
                    break;
                default:
                    throw new StateMigrationException(
                            "State '"
                                    + metaInfo.getName()
                                    + "' has backend state type "
                                    + metaInfo.getBackendStateType()
                                    + ", which keyed state cannot hold.");
            }
        }
        return targets;
    }

    private Target columnFamilyTarget(
            StateMetaInfoSnapshot snapshot,
            org.apache.flink.runtime.state.RegisteredStateMetaInfoBase metaInfo)
            throws IOException {
        RegisteredRocksDBState state = registeredStates.get(snapshot.getName());
        if (state == null) {
            state =
                    new RegisteredRocksDBState(
                            instance.createColumnFamily(snapshot.getName()), metaInfo);
            registeredStates.put(snapshot.getName(), state);
        }
        ColumnFamilyHandle columnFamily = state.getColumnFamily();
        return (key, value, batch) -> batch.put(columnFamily, key, value);
    }

    private Target heapTarget(RegisteredPriorityQueueStateBackendMetaInfo<?> metaInfo) {
        HeapTimerRestore.TimerSink sink =
                HeapTimerRestore.sinkFor(
                        heapQueues,
                        metaInfo,
                        keyGroupRange,
                        numberOfKeyGroups,
                        keyGroupPrefixBytes);
        return (key, value, batch) -> sink.add(key);
    }
}
