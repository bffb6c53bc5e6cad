package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.rocksdb.SharedDbFiles;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.snapshot.RocksDBIncrementalSnapshotOperation;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
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
 *
 * <p>A copy restored from a second time is verified in full once, whatever is configured. The live
 * database's SST files and the copy's are one file on disk, so a block that rots after the upload
 * is in the copy too; sizes do not show it, and RocksDB meets it only when the block is read. The
 * task then fails over and is given the same copy again, as no checkpoint completed since, for as
 * long as the job restarts. A restore marks the copy; a marked copy means a task that failed again
 * before its next checkpoint, and one full read of the copy then costs less than such a loop. A
 * copy that passed is marked as verified and not read in full again.
 */
final class LocalCopyRestore<K> {

    private static final Logger LOG = LoggerFactory.getLogger(LocalCopyRestore.class);

    /** Left in a local copy's directory by a restore from it. */
    static final String RESTORED_MARKER = "restored";

    /** Left in a local copy's directory once its files passed the full verification. */
    static final String VERIFIED_MARKER = "verified";

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

        final Path copy = handle.getDirectoryStateHandle().getDirectory();
        final boolean verifyInFull =
                context.settings.isVerifyLocalCopyChecksums()
                        || isRestoredAgainUnverified(copy, checkpointId);

        final Path restoreDirectory = context.newTemporaryDirectory("restore");
        final long placeStart = System.nanoTime();
        context.downloader.placeLocalCopy(
                checkpointId,
                localFiles,
                restoreDirectory,
                context.cancelStreamRegistry,
                verifyInFull);
        if (verifyInFull) {
            mark(copy, VERIFIED_MARKER);
        }
        final long placeNanos = System.nanoTime() - placeStart;
        context.moveIntoPlace(restoreDirectory, checkpointId);
        final RocksDBInstance instance =
                context.registration.openAndRegister(
                        context.opener, context.dbDirectory, metaData.getStateMetaInfoSnapshots());

        // the copy names the checkpoint's SST files in checkpoint storage: they may be referred to
        final Map<String, StateFile> sharedFiles = new HashMap<>();
        for (HandleAndLocalPath file : handle.getSharedStateHandles()) {
            IncrementalSnapshotMetaData.FileEntry entry =
                    metaData.getFiles().get(file.getLocalPath());
            if (entry != null
                    && SharedDbFiles.isShareable(file.getLocalPath())
                    && !(file.getHandle() instanceof PlaceholderStreamStateHandle)) {
                sharedFiles.put(
                        file.getLocalPath(),
                        new StateFile(
                                file.getLocalPath(),
                                file.getHandle(),
                                entry.getSize(),
                                entry.getChecksum()));
            }
        }
        return new RocksDBIncrementalRestoreOperation.Result(
                instance, checkpointId, Collections.unmodifiableMap(sharedFiles), 0L, placeNanos);
    }

    /**
     * Whether an earlier restore from the copy marked it and its files were not verified in full
     * since; marks the copy otherwise.
     */
    private static boolean isRestoredAgainUnverified(Path copy, long checkpointId) {
        if (Files.exists(copy.resolve(VERIFIED_MARKER))) {
            return false;
        }
        if (Files.exists(copy.resolve(RESTORED_MARKER))) {
            LOG.info(
                    "The local copy of checkpoint {} in {} was restored from before, and no"
                            + " checkpoint completed since: the checksums of all its files are"
                            + " verified once.",
                    checkpointId,
                    copy);
            return true;
        }
        mark(copy, RESTORED_MARKER);
        return false;
    }

    private static void mark(Path copy, String marker) {
        try {
            Files.createFile(copy.resolve(marker));
        } catch (IOException e) {
            // costs at most a full verification of the copy that was not needed
            LOG.debug("Could not leave the marker '{}' in the local copy {}.", marker, copy, e);
        }
    }
}
