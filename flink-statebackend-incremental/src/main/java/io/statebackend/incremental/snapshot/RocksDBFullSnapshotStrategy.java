package io.statebackend.incremental.snapshot;

import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointStreamWithResultProvider;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.FullSnapshotAsyncWriter;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategy;
import org.apache.flink.util.function.SupplierWithException;

import java.util.function.Supplier;

/**
 * Writes the canonical key-group format of Flink (one stream per backend, key-group offsets in the
 * handle) with the runtime's {@link FullSnapshotAsyncWriter}. Used for savepoints in canonical
 * format and for checkpoints when incremental checkpoints are off.
 */
public final class RocksDBFullSnapshotStrategy<K>
        implements SnapshotStrategy<KeyedStateHandle, FullSnapshotResources<K>> {

    private final Supplier<FullSnapshotResources<K>> resourcesSupplier;
    private final LocalRecoveryConfig localRecoveryConfig;

    public RocksDBFullSnapshotStrategy(
            Supplier<FullSnapshotResources<K>> resourcesSupplier,
            LocalRecoveryConfig localRecoveryConfig) {
        this.resourcesSupplier = resourcesSupplier;
        this.localRecoveryConfig = localRecoveryConfig;
    }

    @Override
    public FullSnapshotResources<K> syncPrepareResources(long checkpointId) {
        return resourcesSupplier.get();
    }

    @Override
    public SnapshotResultSupplier<KeyedStateHandle> asyncSnapshot(
            FullSnapshotResources<K> resources,
            long checkpointId,
            long timestamp,
            CheckpointStreamFactory streamFactory,
            CheckpointOptions checkpointOptions) {
        if (resources.getMetaInfoSnapshots().isEmpty()) {
            return registry -> SnapshotResult.empty();
        }
        SupplierWithException<CheckpointStreamWithResultProvider, Exception> streams =
                localRecoveryConfig.isLocalBackupEnabled()
                                && !checkpointOptions.getCheckpointType().isSavepoint()
                        ? () ->
                                CheckpointStreamWithResultProvider.createDuplicatingStream(
                                        checkpointId,
                                        CheckpointedStateScope.EXCLUSIVE,
                                        streamFactory,
                                        localRecoveryConfig
                                                .getLocalStateDirectoryProvider()
                                                .orElseThrow(
                                                        LocalRecoveryConfig
                                                                .localRecoveryNotEnabled()))
                        : () ->
                                CheckpointStreamWithResultProvider.createSimpleStream(
                                        CheckpointedStateScope.EXCLUSIVE, streamFactory);
        return new FullSnapshotAsyncWriter<>(
                checkpointOptions.getCheckpointType(), streams, resources);
    }
}
