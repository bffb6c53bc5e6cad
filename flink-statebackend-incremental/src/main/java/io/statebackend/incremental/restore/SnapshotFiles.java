package io.statebackend.incremental.restore;

import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.util.IOUtils;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads what a snapshot consists of: its meta data and its files, each checked before use. Names
 * come from state handles, that is from outside the backend.
 */
final class SnapshotFiles {

    private SnapshotFiles() {}

    static IncrementalSnapshotMetaData readMetaData(
            StreamStateHandle metaDataHandle,
            long checkpointId,
            ClassLoader userCodeClassLoader,
            CloseableRegistry cancelStreamRegistry)
            throws IOException {
        FSDataInputStream in = null;
        try {
            in = metaDataHandle.openInputStream();
            cancelStreamRegistry.registerCloseable(in);
            return IncrementalSnapshotMetaData.read(
                    new DataInputViewStreamWrapper(in), userCodeClassLoader, checkpointId);
        } catch (IOException e) {
            throw new IOException(
                    "Could not read the meta data of checkpoint "
                            + checkpointId
                            + " from "
                            + metaDataHandle
                            + ": "
                            + e.getMessage(),
                    e);
        } finally {
            if (in != null && cancelStreamRegistry.unregisterCloseable(in)) {
                IOUtils.closeQuietly(in);
            }
        }
    }

    /**
     * The files of a snapshot with the size and checksum its meta data records. Every name is
     * checked before it is used, and the handle and the meta data must list the same files.
     */
    static List<StateFile> filesOf(
            IncrementalRemoteKeyedStateHandle handle, IncrementalSnapshotMetaData metaData)
            throws IOException {
        final long checkpointId = handle.getCheckpointId();
        final List<HandleAndLocalPath> all =
                new ArrayList<>(handle.getSharedState().size() + handle.getPrivateState().size());
        all.addAll(handle.getSharedState());
        all.addAll(handle.getPrivateState());

        for (HandleAndLocalPath file : all) {
            RocksDBStateDownloader.checkFileName(file.getLocalPath(), checkpointId);
        }

        final List<StateFile> files = new ArrayList<>(all.size());
        final Set<String> seen = new HashSet<>();
        for (HandleAndLocalPath file : all) {
            final String name = file.getLocalPath();
            IncrementalSnapshotMetaData.FileEntry entry = metaData.getFiles().get(name);
            if (entry == null) {
                throw new IOException(
                        "Checkpoint "
                                + checkpointId
                                + " refers to the file '"
                                + name
                                + "', which its meta data does not list.");
            }
            if (!seen.add(name)) {
                throw new IOException(
                        "Checkpoint " + checkpointId + " lists the file '" + name + "' twice.");
            }
            files.add(new StateFile(name, file.getHandle(), entry.getSize(), entry.getChecksum()));
        }
        for (String name : metaData.getFiles().keySet()) {
            if (!seen.contains(name)) {
                throw new IOException(
                        "The file '"
                                + name
                                + "' of checkpoint "
                                + checkpointId
                                + " is missing: its meta data lists it, its state handle does"
                                + " not.");
            }
        }
        return files;
    }
}
