package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateSerializerProvider;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.util.Preconditions;

import org.rocksdb.ColumnFamilyHandle;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Restores a backend from incremental snapshots of this backend: picks the way that fits the
 * handles, {@link PlainRestore} for one snapshot of the same key-group range, {@link
 * LocalCopyRestore} for the local copy of one, {@link RescalingRestore} for snapshots of other
 * ranges. All of them register states and check the key serializer through one {@link
 * StateRegistration}.
 */
public final class RocksDBIncrementalRestoreOperation<K> {

    /** Opens a RocksDB instance with the given column families, as the backend configures it. */
    @FunctionalInterface
    public interface InstanceOpener {
        /**
         * @param autoCompactions false for a temporary database whose files are exported
         */
        RocksDBInstance open(
                File path,
                List<byte[]> columnFamilyNames,
                List<ColumnFamilyHandle> handlesOut,
                boolean autoCompactions)
                throws IOException;
    }

    /** The opened instance and what later checkpoints may reuse. */
    public static final class Result {
        private final RocksDBInstance instance;
        private final long restoredCheckpointId;
        private final Map<String, StateFile> restoredSharedFiles;
        private final long downloadedBytes;
        private final long downloadNanos;

        Result(
                RocksDBInstance instance,
                long restoredCheckpointId,
                Map<String, StateFile> restoredSharedFiles,
                long downloadedBytes,
                long downloadNanos) {
            this.instance = instance;
            this.restoredCheckpointId = restoredCheckpointId;
            this.restoredSharedFiles = restoredSharedFiles;
            this.downloadedBytes = downloadedBytes;
            this.downloadNanos = downloadNanos;
        }

        /** Time spent downloading files, or placing those of a local copy. */
        public long getDownloadNanos() {
            return downloadNanos;
        }

        /** Bytes downloaded from checkpoint storage; none when restored from a local copy. */
        public long getDownloadedBytes() {
            return downloadedBytes;
        }

        public RocksDBInstance getInstance() {
            return instance;
        }

        /** The checkpoint whose files the instance consists of, or -1 after rescaling. */
        public long getRestoredCheckpointId() {
            return restoredCheckpointId;
        }

        /**
         * The shared files (SST and blob files) of the restored checkpoint by name. That checkpoint
         * is complete, so the next incremental checkpoint may refer to them instead of uploading
         * them again.
         */
        public Map<String, StateFile> getRestoredSharedFiles() {
            return restoredSharedFiles;
        }
    }

    private final List<? extends KeyedStateHandle> stateHandles;
    private final RestoreContext<K> context;

    /**
     * @param instanceDirectory the backend's directory, for temporary directories
     * @param dbDirectory where the restored database goes; must not exist yet
     * @param heapQueues the heap timer queues, if timers are configured to live on the heap
     * @param writeBatchSize bytes of entries copied per write when rescaling; 0 for no limit
     */
    public RocksDBIncrementalRestoreOperation(
            KeyGroupRange keyGroupRange,
            int numberOfKeyGroups,
            int keyGroupPrefixBytes,
            ClassLoader userCodeClassLoader,
            List<? extends KeyedStateHandle> stateHandles,
            StateSerializerProvider<K> keySerializerProvider,
            File instanceDirectory,
            File dbDirectory,
            InstanceOpener opener,
            RocksDBStateDownloader downloader,
            CloseableRegistry cancelStreamRegistry,
            Map<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues,
            long writeBatchSize,
            RestoreSettings settings) {
        Preconditions.checkArgument(!stateHandles.isEmpty(), "Nothing to restore.");
        this.stateHandles = stateHandles;
        this.context =
                new RestoreContext<>(
                        keyGroupRange,
                        new KeyGroupPrefixes(keyGroupPrefixBytes),
                        userCodeClassLoader,
                        instanceDirectory,
                        dbDirectory,
                        opener,
                        downloader,
                        cancelStreamRegistry,
                        new StateRegistration<>(
                                keyGroupRange,
                                numberOfKeyGroups,
                                keyGroupPrefixBytes,
                                keySerializerProvider,
                                registeredStates,
                                heapQueues),
                        Preconditions.checkNotNull(settings),
                        writeBatchSize);
    }

    public Result restore() throws Exception {
        if (stateHandles.size() == 1
                && stateHandles.get(0) instanceof IncrementalLocalKeyedStateHandle) {
            return new LocalCopyRestore<>(
                            context, (IncrementalLocalKeyedStateHandle) stateHandles.get(0))
                    .restore();
        }
        final List<IncrementalRemoteKeyedStateHandle> remote = new ArrayList<>(stateHandles.size());
        for (KeyedStateHandle handle : stateHandles) {
            if (!(handle instanceof IncrementalRemoteKeyedStateHandle)) {
                throw new IOException(
                        "Cannot restore from "
                                + handle
                                + " together with other snapshots: a local copy of a checkpoint"
                                + " restores only a backend of the same key-group range.");
            }
            remote.add((IncrementalRemoteKeyedStateHandle) handle);
        }
        if (remote.size() == 1 && remote.get(0).getKeyGroupRange().equals(context.keyGroupRange)) {
            return new PlainRestore<>(context, remote.get(0)).restore();
        }
        return new RescalingRestore<>(context, remote).restore();
    }
}
