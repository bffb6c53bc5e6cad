package io.statebackend.incremental;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.metrics.IncrementalRocksDBMetrics;
import io.statebackend.incremental.metrics.RestoreInitializationMetrics;
import io.statebackend.incremental.metrics.RocksDBNativeMetricMonitor;
import io.statebackend.incremental.metrics.RocksDBNativeMetricOptions;
import io.statebackend.incremental.restore.RocksDBFullRestoreOperation;
import io.statebackend.incremental.restore.RocksDBIncrementalRestoreOperation;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;
import io.statebackend.incremental.rocksdb.options.RocksDBOptionsContainer;
import io.statebackend.incremental.snapshot.SstUploadAhead;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.RocksDBStateUploader;
import io.statebackend.incremental.transfer.StateFile;
import io.statebackend.incremental.transfer.TransferThreadPool;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.state.AbstractKeyedStateBackendBuilder;
import org.apache.flink.runtime.state.AbstractStateBackend;
import org.apache.flink.runtime.state.BackendBuildingException;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.InternalKeyContextImpl;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.StateBackend.KeyedStateBackendParameters;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;

import org.rocksdb.ColumnFamilyHandle;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Opens the RocksDB instance of one keyed backend and restores its state. The instance directory
 * holds the live database in {@code db/} and, while they exist, local checkpoints and downloads. On
 * failure everything opened so far is closed and the instance directory deleted.
 */
final class IncrementalRocksDBKeyedStateBackendBuilder<K>
        extends AbstractKeyedStateBackendBuilder<K> {

    private final KeyedStateBackendParameters<K> parameters;
    private final IncrementalRocksDBSettings settings;

    /** Sub-directory of the instance directory that holds the live database. */
    static final String DB_DIRECTORY = "db";

    private final File instanceDirectory;

    /** Uploads new SST files ahead of checkpoints, if configured; created by {@link #build()}. */
    @Nullable private SstUploadAhead uploadAhead;

    @Nullable private final OpaqueMemoryResource<RocksDBMemoryResources> memory;
    private final LocalRecoveryConfig localRecoveryConfig;
    private LatencyTrackingStateConfig latencyTrackingConfig;
    private RocksDBNativeMetricOptions nativeMetricOptions = RocksDBNativeMetricOptions.disabled();

    IncrementalRocksDBKeyedStateBackendBuilder(
            KeyedStateBackendParameters<K> parameters,
            IncrementalRocksDBSettings settings,
            File instanceDirectory,
            @Nullable OpaqueMemoryResource<RocksDBMemoryResources> memory,
            LocalRecoveryConfig localRecoveryConfig) {
        super(
                parameters.getKvStateRegistry(),
                parameters.getKeySerializer(),
                parameters.getEnv().getUserCodeClassLoader().asClassLoader(),
                parameters.getNumberOfKeyGroups(),
                parameters.getKeyGroupRange(),
                parameters.getEnv().getExecutionConfig(),
                parameters.getTtlTimeProvider(),
                LatencyTrackingStateConfig.disabled(),
                parameters.getStateHandles(),
                AbstractStateBackend.getCompressionDecorator(
                        parameters.getEnv().getExecutionConfig()),
                parameters.getCancelStreamRegistry());
        this.parameters = parameters;
        this.settings = settings;
        this.instanceDirectory = instanceDirectory;
        this.memory = memory;
        this.localRecoveryConfig = localRecoveryConfig;
        this.latencyTrackingConfig = LatencyTrackingStateConfig.disabled();
    }

    IncrementalRocksDBKeyedStateBackendBuilder<K> setLatencyTrackingStateConfig(
            LatencyTrackingStateConfig config) {
        this.latencyTrackingConfig = config;
        return this;
    }

    IncrementalRocksDBKeyedStateBackendBuilder<K> setNativeMetricOptions(
            RocksDBNativeMetricOptions options) {
        this.nativeMetricOptions = options;
        return this;
    }

    @Override
    public IncrementalRocksDBKeyedStateBackend<K> build() throws BackendBuildingException {
        final int keyGroupPrefixBytes = keyGroupPrefixBytes();
        final LinkedHashMap<String, RegisteredRocksDBState> registeredStates =
                new LinkedHashMap<>();
        final Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues =
                settings.getTimerServiceType() == PriorityQueueStateType.HEAP
                        ? new LinkedHashMap<>()
                        : null;

        final TransferThreadPool transferPool =
                new TransferThreadPool(settings.getTransferThreads());
        final Restored restored = new Restored();
        // the task closes the registry it gave us once restore is done: snapshots and the
        // backend's life need their own, closed when the backend is
        final CloseableRegistry cancelStreamRegistryForBackend = new CloseableRegistry();
        RocksDBNativeMetricMonitor nativeMetrics = null;
        try {
            Files.createDirectories(instanceDirectory.toPath());
            if (settings.isCheckpointUploadAhead()) {
                uploadAhead =
                        new SstUploadAhead(
                                instanceDirectory,
                                settings.getRocksDBOptions().isBlobFilesEnabled()
                                        ? new File(instanceDirectory, DB_DIRECTORY)
                                        : null,
                                new RocksDBStateUploader(
                                        transferPool.executor(),
                                        settings.getUploadRetryPolicy(),
                                        settings.getUploadCheck()));
            }
            final long restoreStart = System.nanoTime();
            restore(restored, transferPool, registeredStates, heapQueues, keyGroupPrefixBytes);
            final long restoreNanos = System.nanoTime() - restoreStart;
            reportRestoreDurations(restored, restoreNanos);
            final IncrementalRocksDBMetrics metrics = new IncrementalRocksDBMetrics();
            metrics.reportRestore(
                    restored.downloadedBytes, TimeUnit.NANOSECONDS.toMillis(restoreNanos));
            nativeMetrics =
                    new RocksDBNativeMetricMonitor(
                            nativeMetricOptions,
                            parameters.getMetricGroup(),
                            restored.instance.getDb(),
                            restored.instance.getStatistics());
            final IncrementalRocksDBKeyedStateBackend<K> backend =
                    new IncrementalRocksDBKeyedStateBackend<>(
                            kvStateRegistry,
                            keySerializerProvider.currentSchemaSerializer(),
                            userCodeClassLoader,
                            executionConfig,
                            ttlTimeProvider,
                            latencyTrackingConfig,
                            cancelStreamRegistryForBackend,
                            keyGroupCompressionDecorator,
                            new InternalKeyContextImpl<>(keyGroupRange, numberOfKeyGroups),
                            restored.instance,
                            instanceDirectory,
                            transferPool,
                            memory,
                            settings,
                            localRecoveryConfig,
                            registeredStates,
                            heapQueues,
                            keyGroupPrefixBytes,
                            parameters.getOperatorIdentifier(),
                            metrics,
                            nativeMetrics,
                            restored.checkpointId,
                            restored.sharedFiles,
                            uploadAhead);
            // only a backend that was built shows its figures: a failed attempt registers nothing
            // that the next attempt, from another restore alternative, would collide with
            metrics.register(parameters.getMetricGroup());
            if (uploadAhead != null) {
                IncrementalRocksDBMetrics.registerUploadAhead(
                        parameters.getMetricGroup(),
                        uploadAhead::getUploadedBytes,
                        uploadAhead::getDiscardedBytes);
            }
            nativeMetrics.registerStatistics();
            for (Map.Entry<String, RegisteredRocksDBState> state : registeredStates.entrySet()) {
                nativeMetrics.registerColumnFamily(
                        state.getKey(), state.getValue().getColumnFamily());
            }
            return backend;
        } catch (Throwable t) {
            if (nativeMetrics != null) {
                nativeMetrics.close();
            }
            if (restored.instance != null) {
                restored.instance.close();
            }
            if (uploadAhead != null) {
                // after the database: RocksDB calls its listener until it is closed
                uploadAhead.close();
            }
            transferPool.close();
            IOUtils.closeQuietly(cancelStreamRegistryForBackend);
            FileUtils.deleteDirectoryQuietly(instanceDirectory);
            if (t instanceof BackendBuildingException) {
                throw (BackendBuildingException) t;
            }
            throw new BackendBuildingException(
                    "Could not build the keyed state backend of operator "
                            + parameters.getOperatorIdentifier()
                            + ": "
                            + t.getMessage(),
                    t);
        }
    }

    /** What restoring produced: the open instance and the files later checkpoints may reuse. */
    private static final class Restored {
        @Nullable RocksDBInstance instance;
        long checkpointId = -1L;
        Map<String, StateFile> sharedFiles = Collections.emptyMap();
        long downloadedBytes;
        RestoreKind kind = RestoreKind.NOTHING;
        long downloadNanos;
    }

    /** Where the restored state came from. */
    private enum RestoreKind {
        NOTHING,
        FILES,
        STREAMS
    }

    private void reportRestoreDurations(Restored restored, long restoreNanos) {
        switch (restored.kind) {
            case FILES:
                RestoreInitializationMetrics.reportFileRestore(
                        parameters.getCustomInitializationMetrics(),
                        restored.downloadNanos,
                        restoreNanos);
                break;
            case STREAMS:
                RestoreInitializationMetrics.reportStreamRestore(
                        parameters.getCustomInitializationMetrics(), restoreNanos);
                break;
            default:
                // a new, empty backend restored nothing
        }
    }

    /** Bytes of the key-group prefix of every key, for the number of key groups. */
    private int keyGroupPrefixBytes() {
        return CompositeKeySerializationUtils.computeRequiredBytesInKeyGroupPrefix(
                numberOfKeyGroups);
    }

    private RocksDBInstance openInstance(
            File path, List<byte[]> columnFamilyNames, List<ColumnFamilyHandle> handlesOut)
            throws IOException {
        return openInstance(path, columnFamilyNames, handlesOut, true);
    }

    private RocksDBInstance openInstance(
            File path,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut,
            boolean autoCompactions)
            throws IOException {
        final RocksDBOptionsContainer options =
                new RocksDBOptionsContainer(
                                settings.getRocksDBOptions(),
                                settings.getOptionsFactory(),
                                memory == null ? null : memory.getResourceHandle(),
                                settings.getMaxManifestFileSize(),
                                path)
                        .withTimerInsertHints(keyGroupPrefixBytes());
        if (uploadAhead != null
                && autoCompactions
                && path.equals(new File(instanceDirectory, DB_DIRECTORY))) {
            // only the backend's own database: temporary ones of a restore are never checkpointed
            options.withEventListener(uploadAhead.eventListener());
        }
        return RocksDBInstance.open(
                path,
                options,
                columnFamilyNames,
                handlesOut,
                // temporary databases of a restore report no metrics
                autoCompactions && nativeMetricOptions.isStatisticsEnabled(),
                autoCompactions);
    }

    private void restore(
            Restored restored,
            TransferThreadPool transferPool,
            Map<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues,
            int keyGroupPrefixBytes)
            throws Exception {
        final File dbDirectory = new File(instanceDirectory, DB_DIRECTORY);
        final List<KeyedStateHandle> handles = new ArrayList<>(restoreStateHandles.size());
        for (KeyedStateHandle handle : restoreStateHandles) {
            if (handle != null) {
                handles.add(handle);
            }
        }

        if (handles.isEmpty()) {
            restored.instance =
                    openInstance(dbDirectory, Collections.emptyList(), new ArrayList<>());
            return;
        }

        if (allOfType(handles, KeyGroupsStateHandle.class)) {
            // the canonical format is read as streams from wherever the handles are
            for (KeyedStateHandle handle : handles) {
                restored.downloadedBytes += handle.getStateSize();
            }
            restored.kind = RestoreKind.STREAMS;
            restored.instance =
                    openInstance(dbDirectory, Collections.emptyList(), new ArrayList<>());
            new RocksDBFullRestoreOperation<>(
                            keyGroupRange,
                            numberOfKeyGroups,
                            keyGroupPrefixBytes,
                            userCodeClassLoader,
                            handles,
                            keySerializerProvider,
                            restored.instance,
                            registeredStates,
                            heapQueues,
                            settings.getWriteBatchSize())
                    .restore();
            return;
        }

        // snapshots in checkpoint storage, or the local copy local recovery kept of one
        if (allOfType(handles, IncrementalRemoteKeyedStateHandle.class)
                || (handles.size() == 1
                        && handles.get(0) instanceof IncrementalLocalKeyedStateHandle)) {
            RocksDBIncrementalRestoreOperation.Result result =
                    new RocksDBIncrementalRestoreOperation<>(
                                    keyGroupRange,
                                    numberOfKeyGroups,
                                    keyGroupPrefixBytes,
                                    userCodeClassLoader,
                                    handles,
                                    keySerializerProvider,
                                    instanceDirectory,
                                    dbDirectory,
                                    this::openInstance,
                                    new RocksDBStateDownloader(
                                            transferPool.executor(),
                                            settings.getDownloadRetryPolicy()),
                                    cancelStreamRegistry,
                                    registeredStates,
                                    heapQueues,
                                    settings.getWriteBatchSize(),
                                    settings.getRestoreSettings())
                            .restore();
            restored.instance = result.getInstance();
            restored.checkpointId = result.getRestoredCheckpointId();
            restored.sharedFiles = result.getRestoredSharedFiles();
            restored.downloadedBytes = result.getDownloadedBytes();
            restored.downloadNanos = result.getDownloadNanos();
            restored.kind = RestoreKind.FILES;
            return;
        }

        Set<String> types = new TreeSet<>();
        for (KeyedStateHandle handle : handles) {
            types.add(handle.getClass().getName());
        }
        throw new BackendBuildingException(
                "Cannot restore from state handles of type "
                        + types
                        + ": this backend restores its own incremental snapshots"
                        + " (IncrementalRemoteKeyedStateHandle), one local copy of one"
                        + " (IncrementalLocalKeyedStateHandle) and Flink's canonical key-group"
                        + " format (KeyGroupsStateHandle), one kind at a time.");
    }

    private static boolean allOfType(List<KeyedStateHandle> handles, Class<?> type) {
        for (KeyedStateHandle handle : handles) {
            if (!type.isInstance(handle)) {
                return false;
            }
        }
        return true;
    }
}
