package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.snapshot.RocksDBIncrementalSnapshotOperation;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Restores from the local copy that local recovery kept of a checkpoint, without downloading: SST
 * files are hard-linked and their sizes checked (their full checksums only if configured), other
 * files are copied and verified. A missing or damaged copy fails, leaving nothing behind, and Flink
 * restores from checkpoint storage instead.
 */
final class LocalCopyRestore<K> {

    private final RestoreContext<K> context;
    private final IncrementalLocalKeyedStateHandle handle;

    LocalCopyRestore(RestoreContext<K> context, IncrementalLocalKeyedStateHandle handle) {
        this.context = context;
        this.handle = handle;
    }

    RocksDBIncrementalRestoreOperation.Result restore() throws Exception {
        final long checkpointId = handle.getCheckpointId();
        if (!handle.getKeyGroupRange().equals(context.keyGroupRange)) {
            throw new IOException(
                    "The local copy of checkpoint "
                            + checkpointId
                            + " holds key groups "
                            + handle.getKeyGroupRange()
                            + ", the backend "
                            + context.keyGroupRange
                            + ": a local copy restores only its own key-group range.");
        }
        final IncrementalSnapshotMetaData metaData =
                context.readMetaData(handle.getMetaDataStateHandle(), checkpointId);
        final Path copyDirectory =
                handle.getDirectoryStateHandle()
                        .getDirectory()
                        .resolve(RocksDBIncrementalSnapshotOperation.LOCAL_DB_DIRECTORY);
        final List<StateFile> localFiles = new ArrayList<>(metaData.getFiles().size());
        for (IncrementalSnapshotMetaData.FileEntry entry : metaData.getFiles().values()) {
            RocksDBStateDownloader.checkFileName(entry.getName(), checkpointId);
            final Path file = copyDirectory.resolve(entry.getName());
            localFiles.add(
                    new StateFile(
                            entry.getName(),
                            new FileStateHandle(
                                    new org.apache.flink.core.fs.Path(file.toUri()),
                                    entry.getSize()),
                            entry.getSize(),
                            entry.getChecksum()));
        }

        final Path restoreDirectory = context.newTemporaryDirectory("restore");
        final long placeStart = System.nanoTime();
        context.downloader.placeLocalCopy(
                checkpointId,
                localFiles,
                restoreDirectory,
                context.cancelStreamRegistry,
                context.settings.isVerifyLocalCopyChecksums());
        final long placeNanos = System.nanoTime() - placeStart;
        context.moveIntoPlace(restoreDirectory, checkpointId);
        final RocksDBInstance instance =
                context.registration.openAndRegister(
                        context.opener, context.dbDirectory, metaData.getStateMetaInfoSnapshots());

        // the copy names the checkpoint's SST files in checkpoint storage: they may be referred to
        final Map<String, StateFile> sstFiles = new HashMap<>();
        for (HandleAndLocalPath file : handle.getSharedStateHandles()) {
            IncrementalSnapshotMetaData.FileEntry entry =
                    metaData.getFiles().get(file.getLocalPath());
            if (entry != null
                    && file.getLocalPath().endsWith(".sst")
                    && !(file.getHandle() instanceof PlaceholderStreamStateHandle)) {
                sstFiles.put(
                        file.getLocalPath(),
                        new StateFile(
                                file.getLocalPath(),
                                file.getHandle(),
                                entry.getSize(),
                                entry.getChecksum()));
            }
        }
        return new RocksDBIncrementalRestoreOperation.Result(
                instance, checkpointId, Collections.unmodifiableMap(sstFiles), 0L, placeNanos);
    }
}
