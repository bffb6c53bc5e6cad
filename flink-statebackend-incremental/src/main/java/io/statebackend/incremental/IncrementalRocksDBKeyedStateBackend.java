package io.statebackend.incremental;

import io.statebackend.incremental.metrics.IncrementalRocksDBMetrics;
import io.statebackend.incremental.metrics.RocksDBNativeMetricMonitor;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;
import io.statebackend.incremental.snapshot.CheckpointType;
import io.statebackend.incremental.snapshot.RocksDBFullSnapshotResources;
import io.statebackend.incremental.snapshot.RocksDBFullSnapshotStrategy;
import io.statebackend.incremental.snapshot.RocksDBIncrementalSnapshotOperation;
import io.statebackend.incremental.snapshot.SstUploadAhead;
import io.statebackend.incremental.state.AbstractRocksDBState;
import io.statebackend.incremental.state.PrefixIterators;
import io.statebackend.incremental.state.RocksDBStateContext;
import io.statebackend.incremental.state.RocksDBStateKeysIterator;
import io.statebackend.incremental.state.RocksDBStates;
import io.statebackend.incremental.state.StateKeyBuilder;
import io.statebackend.incremental.timers.RocksDBPriorityQueueFactory;
import io.statebackend.incremental.transfer.RocksDBStateUploader;
import io.statebackend.incremental.transfer.StateFile;
import io.statebackend.incremental.transfer.TransferThreadPool;
import io.statebackend.incremental.ttl.TtlBackgroundCleanup;

import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.state.State;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SnapshotType;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.query.TaskKvStateRegistry;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.HeapPriorityQueuesManager;
import org.apache.flink.runtime.state.InternalKeyContext;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.Keyed;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.PriorityComparable;
import org.apache.flink.runtime.state.PriorityQueueSetFactory;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredStateMetaInfoBase;
import org.apache.flink.runtime.state.SavepointResources;
import org.apache.flink.runtime.state.SnapshotExecutionType;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategyRunner;
import org.apache.flink.runtime.state.StateSnapshotTransformer.StateSnapshotTransformFactory;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueStateSnapshot;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;
import org.apache.flink.util.ResourceGuard;
import org.apache.flink.util.StateMigrationException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.PerfLevel;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nonnull;
import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.UUID;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The keyed state backend: every registered state is a column family of one RocksDB instance owned
 * by this backend; timers are a column family each or live on the heap, by configuration.
 */
public class IncrementalRocksDBKeyedStateBackend<K> extends AbstractKeyedStateBackend<K>
        implements RocksDBStateContext<K>, RocksDBPriorityQueueFactory.QueueRegistry {

    private static final Logger LOG =
            LoggerFactory.getLogger(IncrementalRocksDBKeyedStateBackend.class);

    private final RocksDBInstance instance;
    private final RocksDB db;

    /** Holds the database directory and, while they exist, local checkpoint directories. */
    private final File instanceDirectory;

    /** Moves files to and from checkpoint storage; closed with the backend. */
    private final TransferThreadPool transferPool;

    @Nullable private final SstUploadAhead uploadAhead;

    /** Identifies this backend instance in its incremental snapshots; new for every instance. */
    private final UUID backendUID = UUID.randomUUID();

    @Nullable private final OpaqueMemoryResource<RocksDBMemoryResources> memory;
    private final IncrementalRocksDBSettings settings;
    private final LocalRecoveryConfig localRecoveryConfig;

    /** Figures of the restore and of the last checkpoint, gauges in the operator's group. */
    private final IncrementalRocksDBMetrics metrics;

    /** RocksDB's native metrics of this backend's column families; closed before the database. */
    private final RocksDBNativeMetricMonitor nativeMetrics;

    /**
     * Guards the database against being closed while a snapshot reads it: a canonical snapshot for
     * its whole asynchronous part, an incremental one while it takes the RocksDB checkpoint.
     */
    private final ResourceGuard dbResourceGuard = new ResourceGuard();

    /** All registered states, key/value and timer queues, in registration order. */
    private final LinkedHashMap<String, RegisteredRocksDBState> registeredStates;

    /** The state objects handed out, so re-registration updates them in place. */
    private final Map<String, AbstractRocksDBState<K, ?, ?>> createdStates = new LinkedHashMap<>();

    private final StateKeyBuilder<K> sharedKeyBuilder;

    /** Bounded iterators for the task thread's reads of map states; made by the first read. */
    @Nullable private PrefixIterators prefixIterators;

    private final int keyGroupPrefixBytes;
    private final PriorityQueueSetFactory priorityQueueFactory;
    @Nullable private final HeapPriorityQueuesManager heapQueues;

    private final SnapshotStrategyRunner<KeyedStateHandle, FullSnapshotResources<K>>
            fullSnapshotRunner;

    private final RocksDBIncrementalSnapshotOperation<K> incrementalSnapshotOperation;

    /** Deletes expired entries of TTL states that ask for background cleanup; task thread. */
    private final TtlBackgroundCleanup ttlCleanup;

    /**
     * Key iterators handed out in streams and not yet closed. A user may forget to close a stream;
     * dispose closes what is left, because a native iterator must not outlive its database.
     */
    private final Set<RocksDBStateKeysIterator<?, ?>> openKeyIterators =
            Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    private boolean disposed;

    IncrementalRocksDBKeyedStateBackend(
            TaskKvStateRegistry kvStateRegistry,
            TypeSerializer<K> keySerializer,
            ClassLoader userCodeClassLoader,
            ExecutionConfig executionConfig,
            TtlTimeProvider ttlTimeProvider,
            LatencyTrackingStateConfig latencyTrackingStateConfig,
            CloseableRegistry cancelStreamRegistry,
            StreamCompressionDecorator keyGroupCompressionDecorator,
            InternalKeyContext<K> keyContext,
            RocksDBInstance instance,
            File instanceDirectory,
            TransferThreadPool transferPool,
            @Nullable OpaqueMemoryResource<RocksDBMemoryResources> memory,
            IncrementalRocksDBSettings settings,
            LocalRecoveryConfig localRecoveryConfig,
            LinkedHashMap<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> restoredHeapQueues,
            int keyGroupPrefixBytes,
            String operatorIdentifier,
            IncrementalRocksDBMetrics metrics,
            RocksDBNativeMetricMonitor nativeMetrics,
            long restoredCheckpointId,
            Map<String, StateFile> restoredSharedFiles,
            @Nullable SstUploadAhead uploadAhead) {
        super(
                kvStateRegistry,
                keySerializer,
                userCodeClassLoader,
                executionConfig,
                ttlTimeProvider,
                latencyTrackingStateConfig,
                cancelStreamRegistry,
                keyGroupCompressionDecorator,
                keyContext);
        this.instance = instance;
        this.db = instance.getDb();
        // RocksDB's perf context counts into thread-local counters on every read, write and
        // iterator step of the thread, and nothing reads them; the level is per thread, and the
        // task thread that builds the backend is the one that accesses its state
        this.db.setPerfLevel(PerfLevel.DISABLE);
        this.instanceDirectory = instanceDirectory;
        this.transferPool = transferPool;
        this.memory = memory;
        this.settings = settings;
        this.localRecoveryConfig = localRecoveryConfig;
        this.metrics = metrics;
        this.nativeMetrics = nativeMetrics;
        this.registeredStates = registeredStates;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.sharedKeyBuilder = new StateKeyBuilder<>(keySerializer, keyGroupPrefixBytes, 32);
        this.ttlCleanup =
                new TtlBackgroundCleanup(
                        db,
                        instance.getReadOptions(),
                        instance.getWriteOptions(),
                        ttlTimeProvider,
                        settings.isTtlBackgroundCleanup());

        if (settings.getTimerServiceType()
                == IncrementalRocksDBOptions.PriorityQueueStateType.HEAP) {
            this.heapQueues =
                    new HeapPriorityQueuesManager(
                            restoredHeapQueues != null ? restoredHeapQueues : new LinkedHashMap<>(),
                            new org.apache.flink.runtime.state.heap.HeapPriorityQueueSetFactory(
                                    keyGroupRange, numberOfKeyGroups, 128),
                            keyGroupRange,
                            numberOfKeyGroups);
            this.priorityQueueFactory = null;
        } else {
            this.heapQueues = null;
            this.priorityQueueFactory =
                    new RocksDBPriorityQueueFactory(
                            keyGroupRange,
                            numberOfKeyGroups,
                            keyGroupPrefixBytes,
                            settings.getTimerCacheSize(),
                            this);
        }
        this.fullSnapshotRunner =
                new SnapshotStrategyRunner<>(
                        "Incremental RocksDB full snapshot",
                        new RocksDBFullSnapshotStrategy<>(
                                this::captureFullSnapshotResources, localRecoveryConfig),
                        cancelStreamRegistry,
                        SnapshotExecutionType.ASYNCHRONOUS);
        this.incrementalSnapshotOperation =
                new RocksDBIncrementalSnapshotOperation<>(
                        db,
                        dbResourceGuard,
                        registeredStates,
                        getKeySerializer(),
                        keyGroupRange,
                        backendUID,
                        instanceDirectory,
                        new RocksDBStateUploader(
                                transferPool.executor(),
                                settings.getUploadRetryPolicy(),
                                settings.getUploadCheck()),
                        localRecoveryConfig.isLocalBackupEnabled()
                                ? localRecoveryConfig
                                        .getLocalStateDirectoryProvider()
                                        .orElseThrow(LocalRecoveryConfig.localRecoveryNotEnabled())
                                : null,
                        localCopyName(operatorIdentifier, backendUID),
                        metrics,
                        restoredCheckpointId,
                        restoredSharedFiles,
                        uploadAhead);
        this.uploadAhead = uploadAhead;
    }

    /** The uploads of SST files ahead of checkpoints, if configured, for tests. */
    @VisibleForTesting
    @Nullable
    public SstUploadAhead getUploadAhead() {
        return uploadAhead;
    }

    /**
     * The name of this backend's local copies inside a checkpoint's subtask directory: chained
     * operators share the subtask directory, so the name carries the operator and the backend.
     */
    static String localCopyName(String operatorIdentifier, UUID backendUID) {
        return "incremental-rocksdb_op_"
                + IncrementalRocksDBStateBackend.sanitize(operatorIdentifier)
                + "_uuid_"
                + backendUID;
    }

    // ------------------------------------------------------------------------
    //  context for state objects
    // ------------------------------------------------------------------------

    @Override
    public RocksDB getDb() {
        return db;
    }

    @Override
    public ReadOptions getReadOptions() {
        return instance.getReadOptions();
    }

    @Override
    public PrefixIterators getPrefixIterators() {
        if (prefixIterators == null) {
            Preconditions.checkState(!disposed, "The state backend has been disposed.");
            prefixIterators = new PrefixIterators(db, instance.getReadOptions());
        }
        return prefixIterators;
    }

    @Override
    public WriteOptions getWriteOptions() {
        return instance.getWriteOptions();
    }

    @Override
    public StateKeyBuilder<K> getSharedKeyBuilder() {
        return sharedKeyBuilder;
    }

    @Override
    public int getKeyGroupPrefixBytes() {
        return keyGroupPrefixBytes;
    }

    @Override
    public ColumnFamilyHandle getColumnFamily(String stateName) {
        RegisteredRocksDBState state = registeredStates.get(stateName);
        Preconditions.checkState(state != null, "State %s is not registered.", stateName);
        return state.getColumnFamily();
    }

    @Override
    public void setCurrentKey(K newKey) {
        super.setCurrentKey(newKey);
        sharedKeyBuilder.setKeyAndKeyGroup(getCurrentKey(), getCurrentKeyGroupIndex());
        ttlCleanup.onRecord();
    }

    public IncrementalRocksDBSettings getSettings() {
        return settings;
    }

    /** The RocksDB instance, for tests and tools. */
    public RocksDBInstance getRocksDBInstance() {
        return instance;
    }

    @Nullable
    public RocksDBMemoryResources getMemoryResources() {
        return memory == null ? null : memory.getResourceHandle();
    }

    // ------------------------------------------------------------------------
    //  state registration
    // ------------------------------------------------------------------------

    @Nonnull
    @Override
    public <N, SV, SEV, S extends State, IS extends S> IS createOrUpdateInternalState(
            @Nonnull TypeSerializer<N> namespaceSerializer,
            @Nonnull StateDescriptor<S, SV> stateDesc,
            @Nonnull StateSnapshotTransformFactory<SEV> snapshotTransformFactory)
            throws Exception {
        return createOrUpdateInternalState(
                namespaceSerializer, stateDesc, snapshotTransformFactory, false);
    }

    @Nonnull
    @Override
    @SuppressWarnings("unchecked")
    public <N, SV, SEV, S extends State, IS extends S> IS createOrUpdateInternalState(
            @Nonnull TypeSerializer<N> namespaceSerializer,
            @Nonnull StateDescriptor<S, SV> stateDesc,
            @Nonnull StateSnapshotTransformFactory<SEV> snapshotTransformFactory,
            boolean allowFutureMetadataUpdates)
            throws Exception {
        RegisteredKeyValueStateBackendMetaInfo<N, SV> metaInfo =
                registerKeyValueState(
                        namespaceSerializer,
                        stateDesc,
                        (StateSnapshotTransformFactory<SV>)
                                (StateSnapshotTransformFactory<?>) snapshotTransformFactory,
                        allowFutureMetadataUpdates);
        AbstractRocksDBState<K, N, SV> existing =
                (AbstractRocksDBState<K, N, SV>) createdStates.get(stateDesc.getName());
        if (existing != null) {
            existing.updateSerializers(
                    metaInfo.getNamespaceSerializer(), metaInfo.getStateSerializer());
            existing.setTtlConfig(stateDesc.getTtlConfig());
            ttlCleanup.register(existing, stateDesc.getType());
            return (IS) existing;
        }
        AbstractRocksDBState<K, N, SV> state =
                RocksDBStates.create(
                        this,
                        stateDesc,
                        metaInfo.getNamespaceSerializer(),
                        metaInfo.getStateSerializer());
        state.setTtlConfig(stateDesc.getTtlConfig());
        ttlCleanup.register(state, stateDesc.getType());
        createdStates.put(stateDesc.getName(), state);
        return (IS) state;
    }

    private <N, SV> RegisteredKeyValueStateBackendMetaInfo<N, SV> registerKeyValueState(
            TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, SV> stateDesc,
            StateSnapshotTransformFactory<SV> snapshotTransformFactory,
            boolean allowFutureMetadataUpdates)
            throws Exception {
        final String name = stateDesc.getName();
        final TypeSerializer<SV> stateSerializer = stateDesc.getSerializer();
        RegisteredRocksDBState registered = registeredStates.get(name);
        if (registered == null) {
            RegisteredKeyValueStateBackendMetaInfo<N, SV> metaInfo =
                    new RegisteredKeyValueStateBackendMetaInfo<>(
                            stateDesc.getType(),
                            name,
                            namespaceSerializer,
                            stateSerializer,
                            snapshotTransformFactory);
            if (allowFutureMetadataUpdates) {
                metaInfo = metaInfo.withSerializerUpgradesAllowed();
            }
            registeredStates.put(name, new RegisteredRocksDBState(newColumnFamily(name), metaInfo));
            return metaInfo;
        }

        if (!(registered.getMetaInfo() instanceof RegisteredKeyValueStateBackendMetaInfo)) {
            throw new StateMigrationException(
                    "State '" + name + "' is registered as a timer queue, not as keyed state.");
        }
        @SuppressWarnings("unchecked")
        RegisteredKeyValueStateBackendMetaInfo<N, SV> restored =
                (RegisteredKeyValueStateBackendMetaInfo<N, SV>) registered.getMetaInfo();
        try {
            restored.checkStateMetaInfo(stateDesc);
        } catch (IllegalStateException e) {
            throw new StateMigrationException(e.getMessage());
        }

        TypeSerializerSchemaCompatibility<N> namespaceCompatibility =
                restored.updateNamespaceSerializer(namespaceSerializer);
        if (namespaceCompatibility.isCompatibleAfterMigration()
                || namespaceCompatibility.isIncompatible()) {
            throw new StateMigrationException(
                    "The new namespace serializer of state '"
                            + name
                            + "' ("
                            + namespaceSerializer
                            + ") must be compatible with the old one ("
                            + restored.getPreviousNamespaceSerializer()
                            + ").");
        }

        if (stateDesc.getType() == StateDescriptor.Type.MAP) {
            checkMapKeysNeedNoMigration(name, restored, stateSerializer);
        }

        TypeSerializerSchemaCompatibility<SV> stateCompatibility =
                restored.updateStateSerializer(stateSerializer);
        if (stateCompatibility.isIncompatible()) {
            throw new StateMigrationException(
                    "The new state serializer of state '"
                            + name
                            + "' ("
                            + stateSerializer
                            + ") must not be incompatible with the old one ("
                            + restored.getPreviousStateSerializer()
                            + ").");
        }
        if (stateCompatibility.isCompatibleAfterMigration()) {
            RocksDBStates.migrate(
                    db,
                    registered.getColumnFamily(),
                    instance.getReadOptions(),
                    instance.getWriteOptions(),
                    stateDesc.getType(),
                    restored.getPreviousStateSerializer(),
                    stateSerializer);
        }

        RegisteredKeyValueStateBackendMetaInfo<N, SV> updated =
                new RegisteredKeyValueStateBackendMetaInfo<>(
                        stateDesc.getType(),
                        name,
                        restored.getNamespaceSerializer(),
                        restored.getStateSerializer(),
                        snapshotTransformFactory);
        if (allowFutureMetadataUpdates) {
            updated = updated.withSerializerUpgradesAllowed();
        }
        registered.setMetaInfo(updated);
        return updated;
    }

    @SuppressWarnings("unchecked")
    private static <SV> void checkMapKeysNeedNoMigration(
            String name,
            RegisteredKeyValueStateBackendMetaInfo<?, SV> restored,
            TypeSerializer<SV> newSerializer)
            throws StateMigrationException {
        TypeSerializer<SV> previous = restored.getPreviousStateSerializer();
        if (!(previous instanceof MapSerializer) || !(newSerializer instanceof MapSerializer)) {
            return;
        }
        TypeSerializer<Object> previousKeys =
                ((MapSerializer<Object, ?>) previous).getKeySerializer();
        TypeSerializer<Object> newKeys =
                ((MapSerializer<Object, ?>) newSerializer).getKeySerializer();
        TypeSerializerSchemaCompatibility<Object> compatibility =
                newKeys.snapshotConfiguration()
                        .resolveSchemaCompatibility(previousKeys.snapshotConfiguration());
        if (compatibility.isCompatibleAfterMigration() || compatibility.isIncompatible()) {
            throw new StateMigrationException(
                    "The new user key serializer of map state '"
                            + name
                            + "' requires migration; map keys are part of the RocksDB key and"
                            + " only map values can be migrated.");
        }
    }

    /** Creates the column family of a new state, with its native metrics if any are on. */
    private ColumnFamilyHandle newColumnFamily(String stateName) throws IOException {
        final ColumnFamilyHandle handle = instance.createColumnFamily(stateName);
        nativeMetrics.registerColumnFamily(stateName, handle);
        return handle;
    }

    @Override
    public <T> RegisteredRocksDBState registerPriorityQueue(
            String stateName, TypeSerializer<T> elementSerializer, boolean allowUpgrades)
            throws Exception {
        RegisteredRocksDBState registered = registeredStates.get(stateName);
        if (registered == null) {
            RegisteredPriorityQueueStateBackendMetaInfo<T> metaInfo =
                    new RegisteredPriorityQueueStateBackendMetaInfo<>(stateName, elementSerializer);
            if (allowUpgrades) {
                metaInfo = metaInfo.withSerializerUpgradesAllowed();
            }
            registered = new RegisteredRocksDBState(newColumnFamily(stateName), metaInfo);
            registeredStates.put(stateName, registered);
            return registered;
        }
        if (!(registered.getMetaInfo() instanceof RegisteredPriorityQueueStateBackendMetaInfo)) {
            throw new StateMigrationException(
                    "State '"
                            + stateName
                            + "' is registered as keyed state, not as a timer queue.");
        }
        @SuppressWarnings("unchecked")
        RegisteredPriorityQueueStateBackendMetaInfo<T> restored =
                (RegisteredPriorityQueueStateBackendMetaInfo<T>) registered.getMetaInfo();
        TypeSerializerSchemaCompatibility<T> compatibility =
                restored.updateElementSerializer(elementSerializer);
        if (compatibility.isCompatibleAfterMigration() || compatibility.isIncompatible()) {
            // timers are keys in RocksDB: their bytes define the order and cannot be rewritten
            throw new StateMigrationException(
                    "The new serializer of timer queue '"
                            + stateName
                            + "' ("
                            + elementSerializer
                            + ") must be compatible with the old one.");
        }
        RegisteredPriorityQueueStateBackendMetaInfo<T> updated =
                new RegisteredPriorityQueueStateBackendMetaInfo<>(
                        stateName, restored.getElementSerializer());
        registered.setMetaInfo(allowUpgrades ? updated.withSerializerUpgradesAllowed() : updated);
        return registered;
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
        if (heapQueues != null) {
            return heapQueues.createOrUpdate(
                    stateName, byteOrderedElementSerializer, allowFutureMetadataUpdates);
        }
        return priorityQueueFactory.create(
                stateName, byteOrderedElementSerializer, allowFutureMetadataUpdates);
    }

    // ------------------------------------------------------------------------
    //  keys
    // ------------------------------------------------------------------------

    @Override
    public <N> Stream<K> getKeys(String state, N namespace) {
        RocksDBStateKeysIterator<K, N> iterator = keysIterator(state, namespace);
        if (iterator == null) {
            return Stream.empty();
        }
        Stream<Tuple2<K, N>> pairs = toStream(iterator);
        return pairs.map(entry -> entry.f0);
    }

    @Override
    public <N> Stream<K> getKeys(List<String> states, N namespace) {
        Set<K> keys = new LinkedHashSet<>();
        for (String state : states) {
            try (Stream<K> stateKeys = getKeys(state, namespace)) {
                stateKeys.forEach(keys::add);
            }
        }
        return keys.stream();
    }

    @Override
    public <N> Stream<Tuple2<K, N>> getKeysAndNamespaces(String state) {
        RocksDBStateKeysIterator<K, N> iterator = keysIterator(state, null);
        if (iterator == null) {
            return Stream.empty();
        }
        return toStream(iterator);
    }

    @SuppressWarnings("unchecked")
    @Nullable
    private <N> RocksDBStateKeysIterator<K, N> keysIterator(String state, @Nullable N namespace) {
        RegisteredRocksDBState registered = registeredStates.get(state);
        if (registered == null
                || !(registered.getMetaInfo() instanceof RegisteredKeyValueStateBackendMetaInfo)) {
            return null;
        }
        RegisteredKeyValueStateBackendMetaInfo<N, ?> metaInfo =
                (RegisteredKeyValueStateBackendMetaInfo<N, ?>) registered.getMetaInfo();
        RocksIterator iterator = db.newIterator(registered.getColumnFamily(), getReadOptions());
        try {
            RocksDBStateKeysIterator<K, N> keys =
                    new RocksDBStateKeysIterator<>(
                            iterator,
                            state,
                            getKeySerializer(),
                            metaInfo.getNamespaceSerializer(),
                            keyGroupPrefixBytes,
                            namespace,
                            openKeyIterators::remove);
            openKeyIterators.add(keys);
            return keys;
        } catch (Throwable t) {
            iterator.close();
            throw new FlinkRuntimeException("Could not iterate the keys of state " + state, t);
        }
    }

    private static <T> Stream<T> toStream(RocksDBStateKeysIterator<?, ?> iterator) {
        @SuppressWarnings("unchecked")
        java.util.Iterator<T> typed = (java.util.Iterator<T>) iterator;
        return StreamSupport.stream(
                        Spliterators.spliteratorUnknownSize(typed, Spliterator.ORDERED), false)
                .onClose(iterator::close);
    }

    @Override
    public int numKeyValueStateEntries() {
        int count = 0;
        for (RegisteredRocksDBState state : registeredStates.values()) {
            if (!(state.getMetaInfo() instanceof RegisteredKeyValueStateBackendMetaInfo)) {
                continue;
            }
            try (RocksIterator iterator =
                    db.newIterator(state.getColumnFamily(), getReadOptions())) {
                for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                    count++;
                }
                iterator.status();
            } catch (RocksDBException e) {
                throw new FlinkRuntimeException(
                        "Could not count the entries of state " + state.getMetaInfo().getName(), e);
            }
        }
        return count;
    }

    // ------------------------------------------------------------------------
    //  snapshots
    // ------------------------------------------------------------------------

    @Nonnull
    @Override
    public RunnableFuture<SnapshotResult<KeyedStateHandle>> snapshot(
            long checkpointId,
            long timestamp,
            @Nonnull CheckpointStreamFactory streamFactory,
            @Nonnull CheckpointOptions checkpointOptions)
            throws Exception {
        flushTimerWrites();
        CheckpointType type =
                CheckpointType.decide(checkpointOptions, settings.isIncrementalCheckpoints());
        // native savepoints are RocksDB's files, whether checkpoints are incremental or not
        if (type == CheckpointType.SAVEPOINT_NATIVE
                || (settings.isIncrementalCheckpoints()
                        && (type == CheckpointType.INCREMENTAL || type == CheckpointType.FULL))) {
            return new SnapshotStrategyRunner<>(
                            "Incremental RocksDB snapshot (" + type + ")",
                            incrementalSnapshotOperation.strategyFor(type, streamFactory),
                            cancelStreamRegistry,
                            SnapshotExecutionType.ASYNCHRONOUS)
                    .snapshot(checkpointId, timestamp, streamFactory, checkpointOptions);
        }
        // checkpoints with incremental checkpoints off, and canonical savepoints
        return fullSnapshotRunner.snapshot(
                checkpointId, timestamp, streamFactory, checkpointOptions);
    }

    @Nonnull
    @Override
    public SavepointResources<K> savepoint() throws Exception {
        flushTimerWrites();
        return new SavepointResources<>(
                captureFullSnapshotResources(), SnapshotExecutionType.ASYNCHRONOUS);
    }

    /** Timers are written in batches: whatever reads their column families writes them first. */
    private void flushTimerWrites() throws RocksDBException {
        if (priorityQueueFactory instanceof RocksDBPriorityQueueFactory) {
            ((RocksDBPriorityQueueFactory) priorityQueueFactory).flushWrites();
        }
    }

    private FullSnapshotResources<K> captureFullSnapshotResources() {
        List<RocksDBFullSnapshotResources.CapturedState> captured =
                new ArrayList<>(registeredStates.size());
        for (RegisteredRocksDBState state : registeredStates.values()) {
            RegisteredStateMetaInfoBase metaInfo = state.getMetaInfo();
            captured.add(
                    new RocksDBFullSnapshotResources.CapturedState(
                            state.getColumnFamily(),
                            metaInfo,
                            RocksDBFullSnapshotResources.transformerOf(metaInfo)));
        }
        List<HeapPriorityQueueStateSnapshot<?>> heapSnapshots = new ArrayList<>();
        if (heapQueues != null) {
            for (HeapPriorityQueueSnapshotRestoreWrapper<?> queue :
                    heapQueues.getRegisteredPQStates().values()) {
                heapSnapshots.add(queue.stateSnapshot());
            }
        }
        try {
            return RocksDBFullSnapshotResources.create(
                    dbResourceGuard,
                    db,
                    captured,
                    heapSnapshots,
                    keyGroupRange,
                    getKeySerializer(),
                    keyGroupPrefixBytes,
                    keyGroupCompressionDecorator);
        } catch (IOException e) {
            throw new FlinkRuntimeException(
                    "Could not take a snapshot: the backend is closing.", e);
        }
    }

    /**
     * Heap timers are not in RocksDB's files, so every snapshot made of those files (checkpoints
     * and native savepoints) needs the timer service to write them into raw keyed state. Only
     * canonical savepoints carry them in their own stream.
     */
    @Override
    public boolean requiresLegacySynchronousTimerSnapshots(SnapshotType checkpointType) {
        return heapQueues != null && !CheckpointType.isCanonicalSavepoint(checkpointType);
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        incrementalSnapshotOperation.notifyCheckpointComplete(checkpointId);
        // on the task thread, like records: cleans the TTL states of a task that gets no records
        ttlCleanup.onCheckpointComplete();
    }

    @Override
    public void notifyCheckpointAborted(long checkpointId) {
        incrementalSnapshotOperation.notifyCheckpointAborted(checkpointId);
    }

    @Override
    public void notifyCheckpointSubsumed(long checkpointId) {
        incrementalSnapshotOperation.notifyCheckpointSubsumed(checkpointId);
    }

    @Override
    public boolean isSafeToReuseKVState() {
        return true;
    }

    // ------------------------------------------------------------------------
    //  life cycle
    // ------------------------------------------------------------------------

    @Override
    public void dispose() {
        if (disposed) {
            return;
        }
        disposed = true;
        // cancels running snapshots, whose streams are registered there
        super.dispose();
        // waits until snapshots that read the database have released it: canonical snapshots
        // iterate it; incremental ones hold it only while RocksDB links its files and then read
        // the links, so an upload stuck in storage does not keep the database open
        dbResourceGuard.close();
        // stops uploads; waits only a bounded time for one stuck in storage
        transferPool.close();
        ttlCleanup.clear();
        closeKeyIterators();
        if (priorityQueueFactory instanceof RocksDBPriorityQueueFactory) {
            // buffered timer writes are dropped with the database
            ((RocksDBPriorityQueueFactory) priorityQueueFactory).close();
        }
        createdStates.clear();
        registeredStates.clear();
        // reporters may still read the gauges: they must not reach the closed database
        nativeMetrics.close();
        if (prefixIterators != null) {
            prefixIterators.close();
        }
        instance.close();
        if (uploadAhead != null) {
            // after the database: RocksDB calls its listener until it is closed
            uploadAhead.close();
        }
        FileUtils.deleteDirectoryQuietly(instanceDirectory);
        IOUtils.closeQuietly(memory);
    }

    /** Closes the iterators of key streams left open; the database is closed next. */
    private void closeKeyIterators() {
        final List<RocksDBStateKeysIterator<?, ?>> leftOpen;
        synchronized (openKeyIterators) {
            leftOpen = new ArrayList<>(openKeyIterators);
        }
        if (!leftOpen.isEmpty()) {
            LOG.debug("Closing {} key streams left open before closing RocksDB.", leftOpen.size());
        }
        for (RocksDBStateKeysIterator<?, ?> iterator : leftOpen) {
            iterator.closeBecauseDisposed();
        }
    }

    /** Number of key streams not yet closed or read to their end, for tests. */
    public int openKeyIterators() {
        return openKeyIterators.size();
    }

    public boolean isDisposed() {
        return disposed;
    }

    /** The identifier this backend writes into its incremental snapshots. */
    public UUID getBackendUID() {
        return backendUID;
    }

    /** The directory of this backend's database and local checkpoints. */
    public File getInstanceDirectory() {
        return instanceDirectory;
    }

    /** Figures of the restore and of the last checkpoint. */
    public IncrementalRocksDBMetrics getMetrics() {
        return metrics;
    }

    /** The incremental snapshot operation, for tests that look at what it may reuse. */
    public RocksDBIncrementalSnapshotOperation<K> getIncrementalSnapshotOperation() {
        return incrementalSnapshotOperation;
    }

    /** The background TTL cleanup, for tests and tools that drive it. */
    public TtlBackgroundCleanup getTtlCleanup() {
        return ttlCleanup;
    }

    /** Names of the registered states, for tests. */
    public Set<String> getRegisteredStateNames() {
        return Collections.unmodifiableSet(registeredStates.keySet());
    }

    /** Flushes memtables, for tests and tools that look at the files. */
    public void flush() throws RocksDBException {
        flushTimerWrites();
        try (org.rocksdb.FlushOptions options = new org.rocksdb.FlushOptions()) {
            options.setWaitForFlush(true);
            for (RegisteredRocksDBState state : registeredStates.values()) {
                db.flush(options, state.getColumnFamily());
            }
        }
    }

    @Override
    public String toString() {
        return "IncrementalRocksDBKeyedStateBackend{path=" + instanceDirectory + '}';
    }
}
