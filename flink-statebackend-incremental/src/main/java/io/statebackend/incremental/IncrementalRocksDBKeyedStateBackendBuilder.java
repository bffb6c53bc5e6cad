package io.statebackend.incremental;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.restore.RocksDBFullRestoreOperation;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.state.AbstractKeyedStateBackendBuilder;
import org.apache.flink.runtime.state.AbstractStateBackend;
import org.apache.flink.runtime.state.BackendBuildingException;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.InternalKeyContextImpl;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.StateBackend.KeyedStateBackendParameters;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;

import javax.annotation.Nullable;

import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Opens the RocksDB instance of one keyed backend and restores its state. On failure everything
 * opened so far is closed and the instance directory deleted.
 */
final class IncrementalRocksDBKeyedStateBackendBuilder<K>
        extends AbstractKeyedStateBackendBuilder<K> {

    private final KeyedStateBackendParameters<K> parameters;
    private final IncrementalRocksDBSettings settings;
    private final File instanceBasePath;
    @Nullable private final OpaqueMemoryResource<RocksDBMemoryResources> memory;
    private final LocalRecoveryConfig localRecoveryConfig;
    private LatencyTrackingStateConfig latencyTrackingConfig;

    IncrementalRocksDBKeyedStateBackendBuilder(
            KeyedStateBackendParameters<K> parameters,
            IncrementalRocksDBSettings settings,
            File instanceBasePath,
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
        this.instanceBasePath = instanceBasePath;
        this.memory = memory;
        this.localRecoveryConfig = localRecoveryConfig;
        this.latencyTrackingConfig = LatencyTrackingStateConfig.disabled();
    }

    IncrementalRocksDBKeyedStateBackendBuilder<K> setLatencyTrackingStateConfig(
            LatencyTrackingStateConfig config) {
        this.latencyTrackingConfig = config;
        return this;
    }

    @Override
    public IncrementalRocksDBKeyedStateBackend<K> build() throws BackendBuildingException {
        final int keyGroupPrefixBytes =
                CompositeKeySerializationUtils.computeRequiredBytesInKeyGroupPrefix(
                        numberOfKeyGroups);
        final LinkedHashMap<String, RegisteredRocksDBState> registeredStates =
                new LinkedHashMap<>();
        final Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues =
                settings.getTimerServiceType() == PriorityQueueStateType.HEAP
                        ? new LinkedHashMap<>()
                        : null;

        RocksDBInstance instance = null;
        try {
            instance =
                    RocksDBInstance.open(
                            instanceBasePath,
                            memory == null ? null : memory.getResourceHandle(),
                            settings.getMaxManifestFileSize(),
                            Collections.emptyList(),
                            new ArrayList<>());
            restore(instance, registeredStates, heapQueues, keyGroupPrefixBytes);
            return new IncrementalRocksDBKeyedStateBackend<>(
                    kvStateRegistry,
                    keySerializerProvider.currentSchemaSerializer(),
                    userCodeClassLoader,
                    executionConfig,
                    ttlTimeProvider,
                    latencyTrackingConfig,
                    // the task closes its registry once the backend is built; snapshots of
                    // the backend's lifetime are cancelled through a registry of its own
                    new CloseableRegistry(),
                    keyGroupCompressionDecorator,
                    new InternalKeyContextImpl<>(keyGroupRange, numberOfKeyGroups),
                    instance,
                    memory,
                    settings,
                    localRecoveryConfig,
                    registeredStates,
                    heapQueues,
                    keyGroupPrefixBytes);
        } catch (Throwable t) {
            if (instance != null) {
                instance.closeAndDelete();
            } else {
                org.apache.flink.util.FileUtils.deleteDirectoryQuietly(instanceBasePath);
            }
            throw new BackendBuildingException(
                    "Could not build the keyed state backend of operator "
                            + parameters.getOperatorIdentifier()
                            + ": "
                            + t.getMessage(),
                    t);
        }
    }

    private void restore(
            RocksDBInstance instance,
            Map<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues,
            int keyGroupPrefixBytes)
            throws Exception {
        if (restoreStateHandles.isEmpty()) {
            return;
        }
        for (KeyedStateHandle handle : restoreStateHandles) {
            if (handle != null && !(handle instanceof KeyGroupsStateHandle)) {
                throw new BackendBuildingException(
                        "Cannot restore from state handle of type "
                                + handle.getClass().getName()
                                + ": this version restores Flink's canonical key-group format"
                                + " only.");
            }
        }
        new RocksDBFullRestoreOperation<>(
                        keyGroupRange,
                        numberOfKeyGroups,
                        keyGroupPrefixBytes,
                        userCodeClassLoader,
                        restoreStateHandles,
                        keySerializerProvider,
                        instance,
                        registeredStates,
                        heapQueues,
                        settings.getWriteBatchSize())
                .restore();
    }
}
