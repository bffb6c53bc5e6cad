package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.SharedDbFiles;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;

import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Restores one snapshot of exactly the backend's key-group range: its files are downloaded in
 * parallel, largest first, verified, and opened as they are. Its SST files may be referred to by
 * the next checkpoint.
 */
final class PlainRestore<K> {

    private final RestoreContext<K> context;
    private final IncrementalRemoteKeyedStateHandle handle;

    PlainRestore(RestoreContext<K> context, IncrementalRemoteKeyedStateHandle handle) {
        this.context = context;
        this.handle = handle;
    }

    RocksDBIncrementalRestoreOperation.Result restore() throws Exception {
        final long checkpointId = handle.getCheckpointId();
        final IncrementalSnapshotMetaData metaData =
                context.readMetaData(handle.getMetaDataStateHandle(), checkpointId);
        final List<StateFile> files = SnapshotFiles.filesOf(handle, metaData);

        final Path downloadDirectory = context.newTemporaryDirectory("restore");
        final long downloadStart = System.nanoTime();
        context.downloader.download(
                checkpointId, files, downloadDirectory, context.cancelStreamRegistry);
        final long downloadNanos = System.nanoTime() - downloadStart;
        long downloadedBytes = 0;
        for (StateFile file : files) {
            downloadedBytes += file.getSize();
        }
        context.moveIntoPlace(downloadDirectory, checkpointId);

        final RocksDBInstance instance =
                context.registration.openAndRegister(
                        context.opener, context.dbDirectory, metaData.getStateMetaInfoSnapshots());

        // only shared files may be referred to later; the private files of a native savepoint
        // belong to the savepoint, which its owner may delete or move at any time
        final Set<String> shared = new HashSet<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            shared.add(file.getLocalPath());
        }
        final Map<String, StateFile> sharedFiles = new HashMap<>();
        for (StateFile file : files) {
            if (SharedDbFiles.isShareable(file.getName()) && shared.contains(file.getName())) {
                sharedFiles.put(file.getName(), file);
            }
        }
        return new RocksDBIncrementalRestoreOperation.Result(
                instance,
                checkpointId,
                Collections.unmodifiableMap(sharedFiles),
                downloadedBytes,
                downloadNanos);
    }
}
