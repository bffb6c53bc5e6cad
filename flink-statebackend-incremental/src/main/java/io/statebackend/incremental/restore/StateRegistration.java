package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.BoundedIterator;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.StateSerializerProvider;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.Preconditions;
import org.apache.flink.util.StateMigrationException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the column families of a restored database into the backend's registered states, and checks
 * the key serializer against the snapshots: the one place every restore path goes through, so that
 * a state is registered once and the same way however its files arrived.
 */
final class StateRegistration<K> {

    private final KeyGroupRange keyGroupRange;
    private final int numberOfKeyGroups;
    private final int keyGroupPrefixBytes;
    private final KeyGroupPrefixes prefixes;
    private final StateSerializerProvider<K> keySerializerProvider;
    private final Map<String, RegisteredRocksDBState> registeredStates;
    @Nullable private final Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues;

    private boolean keySerializerChecked;

    StateRegistration(
            KeyGroupRange keyGroupRange,
            int numberOfKeyGroups,
            int keyGroupPrefixBytes,
            StateSerializerProvider<K> keySerializerProvider,
            Map<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues) {
        this.keyGroupRange = keyGroupRange;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.prefixes = new KeyGroupPrefixes(keyGroupPrefixBytes);
        this.keySerializerProvider = keySerializerProvider;
        this.registeredStates = registeredStates;
        this.heapQueues = heapQueues;
    }

    /**
     * Checks the key serializer of the first snapshot read; that also reconfigures the current key
     * serializer where that is required and possible. Key bytes are RocksDB keys: they cannot
     * migrate.
     */
    @SuppressWarnings("unchecked")
    void checkKeySerializer(IncrementalSnapshotMetaData metaData) throws StateMigrationException {
        if (keySerializerChecked) {
            return;
        }
        final TypeSerializer<K> currentSerializer = keySerializerProvider.currentSchemaSerializer();
        TypeSerializerSchemaCompatibility<K> compatibility =
                keySerializerProvider.setPreviousSerializerSnapshotForRestoredState(
                        (TypeSerializerSnapshot<K>) metaData.getKeySerializerSnapshot());
        if (compatibility.isCompatibleAfterMigration() || compatibility.isIncompatible()) {
            throw new StateMigrationException(
                    "The new key serializer ("
                            + currentSerializer
                            + ") must be compatible with the previous key serializer ("
                            + keySerializerProvider.previousSchemaSerializer()
                            + ").");
        }
        keySerializerChecked = true;
    }

    /**
     * The meta info of every state over several snapshots, by name in first-seen order. Where
     * snapshots differ, the one of the newest checkpoint wins (the first of equals); a state must
     * be of the same kind in all of them.
     */
    static Map<String, StateMetaInfoSnapshot> newestMetaInfos(
            List<IncrementalSnapshotMetaData> metaData, List<Long> checkpointIds)
            throws StateMigrationException {
        Preconditions.checkArgument(
                metaData.size() == checkpointIds.size(),
                "%s meta data for %s checkpoints.",
                metaData.size(),
                checkpointIds.size());
        final Map<String, StateMetaInfoSnapshot> chosen = new LinkedHashMap<>();
        final Map<String, Long> chosenFrom = new LinkedHashMap<>();
        for (int i = 0; i < metaData.size(); i++) {
            for (StateMetaInfoSnapshot metaInfo : metaData.get(i).getStateMetaInfoSnapshots()) {
                StateMetaInfoSnapshot previous = chosen.get(metaInfo.getName());
                if (previous == null) {
                    chosen.put(metaInfo.getName(), metaInfo);
                    chosenFrom.put(metaInfo.getName(), checkpointIds.get(i));
                    continue;
                }
                if (previous.getBackendStateType() != metaInfo.getBackendStateType()) {
                    throw new StateMigrationException(
                            "State '"
                                    + metaInfo.getName()
                                    + "' is of type "
                                    + metaInfo.getBackendStateType()
                                    + " in one snapshot and of type "
                                    + previous.getBackendStateType()
                                    + " in another.");
                }
                if (checkpointIds.get(i) > chosenFrom.get(metaInfo.getName())) {
                    chosen.put(metaInfo.getName(), metaInfo);
                    chosenFrom.put(metaInfo.getName(), checkpointIds.get(i));
                }
            }
        }
        return chosen;
    }

    static List<String> names(List<StateMetaInfoSnapshot> metaInfos) {
        final List<String> names = new ArrayList<>(metaInfos.size());
        for (StateMetaInfoSnapshot metaInfo : metaInfos) {
            names.add(metaInfo.getName());
        }
        return names;
    }

    /** Opens the database at {@code path} with one column family per state and registers them. */
    RocksDBInstance openAndRegister(
            RocksDBIncrementalRestoreOperation.InstanceOpener opener,
            File path,
            List<StateMetaInfoSnapshot> metaInfos)
            throws Exception {
        final List<ColumnFamilyHandle> columnFamilies = new ArrayList<>(metaInfos.size());
        final RocksDBInstance instance =
                opener.open(path, RocksDBInstance.names(names(metaInfos)), columnFamilies, true);
        try {
            for (int i = 0; i < metaInfos.size(); i++) {
                register(instance, metaInfos.get(i), columnFamilies.get(i));
            }
            return instance;
        } catch (Throwable t) {
            instance.close();
            throw t;
        }
    }

    /**
     * Registers one state whose entries are in {@code columnFamily}. Timers go onto the heap if the
     * heap timer service is configured now; their column family is dropped then.
     *
     * @return whether the column family stays in the database
     */
    boolean register(
            RocksDBInstance instance,
            StateMetaInfoSnapshot snapshot,
            ColumnFamilyHandle columnFamily)
            throws Exception {
        Preconditions.checkState(
                !registeredStates.containsKey(snapshot.getName()),
                "State '%s' is registered twice.",
                snapshot.getName());
        switch (snapshot.getBackendStateType()) {
            case KEY_VALUE:
                registeredStates.put(
                        snapshot.getName(),
                        new RegisteredRocksDBState(
                                columnFamily,
                                new RegisteredKeyValueStateBackendMetaInfo<>(snapshot)));
                return true;
            case PRIORITY_QUEUE:
                RegisteredPriorityQueueStateBackendMetaInfo<?> metaInfo =
                        new RegisteredPriorityQueueStateBackendMetaInfo<>(snapshot);
                if (heapQueues == null) {
                    registeredStates.put(
                            snapshot.getName(), new RegisteredRocksDBState(columnFamily, metaInfo));
                    return true;
                }
                moveTimersToHeap(instance, columnFamily, metaInfo);
                instance.dropColumnFamily(columnFamily);
                return false;
            default:
                throw new StateMigrationException(
                        "State '"
                                + snapshot.getName()
                                + "' has backend state type "
                                + snapshot.getBackendStateType()
                                + ", which keyed state cannot hold.");
        }
    }

    private void moveTimersToHeap(
            RocksDBInstance instance,
            ColumnFamilyHandle columnFamily,
            RegisteredPriorityQueueStateBackendMetaInfo<?> metaInfo)
            throws IOException {
        HeapTimerRestore.TimerSink sink =
                HeapTimerRestore.sinkFor(
                        heapQueues,
                        metaInfo,
                        keyGroupRange,
                        numberOfKeyGroups,
                        keyGroupPrefixBytes);
        try (BoundedIterator bounded =
                prefixes.iterate(
                        instance.getDb(), columnFamily, instance.getReadOptions(), keyGroupRange)) {
            for (RocksIterator iterator = bounded.iterator(); iterator.isValid(); iterator.next()) {
                sink.add(iterator.key());
            }
            bounded.checkEnded(
                    "the timers of '"
                            + metaInfo.getName()
                            + "' to move them to the heap timer service");
        }
    }
}
