package io.statebackend.incremental.restore;

import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.util.FileUtils;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** What every way of restoring incremental snapshots needs: where, with what, and how. */
final class RestoreContext<K> {

    final KeyGroupRange keyGroupRange;
    final KeyGroupPrefixes prefixes;
    final ClassLoader userCodeClassLoader;
    final File instanceDirectory;
    final File dbDirectory;
    final RocksDBIncrementalRestoreOperation.InstanceOpener opener;
    final RocksDBStateDownloader downloader;
    final CloseableRegistry cancelStreamRegistry;
    final StateRegistration<K> registration;
    final RestoreSettings settings;
    final long writeBatchSize;

    RestoreContext(
            KeyGroupRange keyGroupRange,
            KeyGroupPrefixes prefixes,
            ClassLoader userCodeClassLoader,
            File instanceDirectory,
            File dbDirectory,
            RocksDBIncrementalRestoreOperation.InstanceOpener opener,
            RocksDBStateDownloader downloader,
            CloseableRegistry cancelStreamRegistry,
            StateRegistration<K> registration,
            RestoreSettings settings,
            long writeBatchSize) {
        this.keyGroupRange = keyGroupRange;
        this.prefixes = prefixes;
        this.userCodeClassLoader = userCodeClassLoader;
        this.instanceDirectory = instanceDirectory;
        this.dbDirectory = dbDirectory;
        this.opener = opener;
        this.downloader = downloader;
        this.cancelStreamRegistry = cancelStreamRegistry;
        this.registration = registration;
        this.settings = settings;
        this.writeBatchSize = writeBatchSize;
    }

    /** Reads a snapshot's meta data; the first one read decides about the key serializer. */
    IncrementalSnapshotMetaData readMetaData(StreamStateHandle metaDataHandle, long checkpointId)
            throws Exception {
        IncrementalSnapshotMetaData metaData =
                SnapshotFiles.readMetaData(
                        metaDataHandle, checkpointId, userCodeClassLoader, cancelStreamRegistry);
        registration.checkKeySerializer(metaData);
        return metaData;
    }

    /** A new path in the instance directory; nothing is created yet. */
    Path newTemporaryDirectory(String purpose) {
        return new File(instanceDirectory, purpose + "-" + UUID.randomUUID()).toPath();
    }

    /** Makes a restored directory the live database; deletes it if that fails. */
    void moveIntoPlace(Path restoredDirectory, long checkpointId) throws IOException {
        try {
            Files.move(restoredDirectory, dbDirectory.toPath());
        } catch (IOException e) {
            FileUtils.deleteDirectoryQuietly(restoredDirectory.toFile());
            throw new IOException(
                    "Could not move the files of checkpoint "
                            + checkpointId
                            + " into "
                            + dbDirectory,
                    e);
        }
    }
}
