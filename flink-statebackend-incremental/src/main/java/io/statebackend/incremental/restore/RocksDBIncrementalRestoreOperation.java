package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.state.BackendBuildingException;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.StateSerializerProvider;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;
import org.apache.flink.util.StateMigrationException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Restores a backend from incremental snapshots of this backend ({@link
 * IncrementalRemoteKeyedStateHandle}s): downloads the files into a fresh directory, verifying each
 * against the checksums of the snapshot's meta data, moves that directory into place and opens it
 * with one column family per state.
 */
public final class RocksDBIncrementalRestoreOperation<K> {

    /** Opens a RocksDB instance with the given column families, as the backend configures it. */
    @FunctionalInterface
    public interface InstanceOpener {
        RocksDBInstance open(
                File path, List<byte[]> columnFamilyNames, List<ColumnFamilyHandle> handlesOut)
                throws IOException;
    }

    /** The opened instance and what later checkpoints may reuse. */
    public static final class Result {
        private final RocksDBInstance instance;
        private final long restoredCheckpointId;
        private final Map<String, StateFile> restoredSstFiles;

        Result(
                RocksDBInstance instance,
                long restoredCheckpointId,
                Map<String, StateFile> restoredSstFiles) {
            this.instance = instance;
            this.restoredCheckpointId = restoredCheckpointId;
            this.restoredSstFiles = restoredSstFiles;
        }

        public RocksDBInstance getInstance() {
            return instance;
        }

        /** The checkpoint whose files the instance consists of, or -1 after rescaling. */
        public long getRestoredCheckpointId() {
            return restoredCheckpointId;
        }

        /**
         * The SST files of the restored checkpoint by name. That checkpoint is complete, so the
         * next incremental checkpoint may refer to them instead of uploading them again.
         */
        public Map<String, StateFile> getRestoredSstFiles() {
            return restoredSstFiles;
        }
    }

    private final KeyGroupRange keyGroupRange;
    private final int numberOfKeyGroups;
    private final int keyGroupPrefixBytes;
    private final ClassLoader userCodeClassLoader;
    private final List<IncrementalRemoteKeyedStateHandle> stateHandles;
    private final StateSerializerProvider<K> keySerializerProvider;
    private final File instanceDirectory;
    private final File dbDirectory;
    private final InstanceOpener opener;
    private final RocksDBStateDownloader downloader;
    private final CloseableRegistry cancelStreamRegistry;
    private final Map<String, RegisteredRocksDBState> registeredStates;
    @Nullable private final Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues;

    private boolean keySerializerChecked;

    /**
     * @param instanceDirectory the backend's directory, for temporary directories
     * @param dbDirectory where the restored database goes; must not exist yet
     * @param heapQueues the heap timer queues, if timers are configured to live on the heap
     */
    public RocksDBIncrementalRestoreOperation(
            KeyGroupRange keyGroupRange,
            int numberOfKeyGroups,
            int keyGroupPrefixBytes,
            ClassLoader userCodeClassLoader,
            List<IncrementalRemoteKeyedStateHandle> stateHandles,
            StateSerializerProvider<K> keySerializerProvider,
            File instanceDirectory,
            File dbDirectory,
            InstanceOpener opener,
            RocksDBStateDownloader downloader,
            CloseableRegistry cancelStreamRegistry,
            Map<String, RegisteredRocksDBState> registeredStates,
            @Nullable Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues) {
        Preconditions.checkArgument(!stateHandles.isEmpty(), "Nothing to restore.");
        this.keyGroupRange = keyGroupRange;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.userCodeClassLoader = userCodeClassLoader;
        this.stateHandles = stateHandles;
        this.keySerializerProvider = keySerializerProvider;
        this.instanceDirectory = instanceDirectory;
        this.dbDirectory = dbDirectory;
        this.opener = opener;
        this.downloader = downloader;
        this.cancelStreamRegistry = cancelStreamRegistry;
        this.registeredStates = registeredStates;
        this.heapQueues = heapQueues;
    }

    public Result restore() throws Exception {
        if (stateHandles.size() == 1
                && stateHandles.get(0).getKeyGroupRange().equals(keyGroupRange)) {
            return restoreWithoutRescaling(stateHandles.get(0));
        }
        List<KeyGroupRange> ranges = new ArrayList<>();
        for (IncrementalRemoteKeyedStateHandle handle : stateHandles) {
            ranges.add(handle.getKeyGroupRange());
        }
        throw new BackendBuildingException(
                "Rescaling from incremental checkpoints is not yet supported: the backend for key"
                        + " groups "
                        + keyGroupRange
                        + " was asked to restore from "
                        + stateHandles.size()
                        + " incremental snapshot(s) of key groups "
                        + ranges
                        + ". Restore from a savepoint in canonical format to change the"
                        + " parallelism.");
    }

    private Result restoreWithoutRescaling(IncrementalRemoteKeyedStateHandle handle)
            throws Exception {
        final IncrementalSnapshotMetaData metaData = readMetaData(handle);
        final List<StateFile> files = filesOf(handle, metaData);

        final Path downloadDirectory = newTemporaryDirectory("restore");
        downloader.download(
                handle.getCheckpointId(), files, downloadDirectory, cancelStreamRegistry);
        try {
            Files.move(downloadDirectory, dbDirectory.toPath());
        } catch (IOException e) {
            FileUtils.deleteDirectoryQuietly(downloadDirectory.toFile());
            throw new IOException(
                    "Could not move the files of checkpoint "
                            + handle.getCheckpointId()
                            + " into "
                            + dbDirectory,
                    e);
        }

        final RocksDBInstance instance =
                openAndRegister(dbDirectory, metaData.getStateMetaInfoSnapshots());

        final Map<String, StateFile> sstFiles = new HashMap<>();
        for (StateFile file : files) {
            if (file.getName().endsWith(".sst")) {
                sstFiles.put(file.getName(), file);
            }
        }
        return new Result(
                instance, handle.getCheckpointId(), Collections.unmodifiableMap(sstFiles));
    }

    // ------------------------------------------------------------------------
    //  meta data and files
    // ------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private IncrementalSnapshotMetaData readMetaData(IncrementalRemoteKeyedStateHandle handle)
            throws Exception {
        final long checkpointId = handle.getCheckpointId();
        final IncrementalSnapshotMetaData metaData;
        FSDataInputStream in = handle.getMetaDataStateHandle().openInputStream();
        try {
            cancelStreamRegistry.registerCloseable(in);
            metaData =
                    IncrementalSnapshotMetaData.read(
                            new DataInputViewStreamWrapper(in), userCodeClassLoader, checkpointId);
        } catch (IOException e) {
            throw new IOException(
                    "Could not read the meta data of checkpoint "
                            + checkpointId
                            + " from "
                            + handle.getMetaDataStateHandle()
                            + ": "
                            + e.getMessage(),
                    e);
        } finally {
            if (cancelStreamRegistry.unregisterCloseable(in)) {
                IOUtils.closeQuietly(in);
            }
        }

        if (!keySerializerChecked) {
            // this also reconfigures the key serializer, where that is required and possible
            TypeSerializerSchemaCompatibility<K> compatibility =
                    keySerializerProvider.setPreviousSerializerSnapshotForRestoredState(
                            (TypeSerializerSnapshot<K>) metaData.getKeySerializerSnapshot());
            if (compatibility.isCompatibleAfterMigration() || compatibility.isIncompatible()) {
                throw new StateMigrationException(
                        "The new key serializer ("
                                + keySerializerProvider.currentSchemaSerializer()
                                + ") must be compatible with the previous key serializer ("
                                + keySerializerProvider.previousSchemaSerializer()
                                + ").");
            }
            keySerializerChecked = true;
        }
        return metaData;
    }

    /**
     * The files of a snapshot with the size and checksum its meta data records. Every name is
     * checked before it is used, and the handle and the meta data must list the same files.
     */
    private static List<StateFile> filesOf(
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

    private Path newTemporaryDirectory(String purpose) {
        return new File(instanceDirectory, purpose + "-" + UUID.randomUUID()).toPath();
    }

    // ------------------------------------------------------------------------
    //  opening and registering
    // ------------------------------------------------------------------------

    /** Opens the database at {@code path} and registers its states. */
    private RocksDBInstance openAndRegister(File path, List<StateMetaInfoSnapshot> metaInfos)
            throws Exception {
        final List<String> names = new ArrayList<>(metaInfos.size());
        for (StateMetaInfoSnapshot metaInfo : metaInfos) {
            names.add(metaInfo.getName());
        }
        final List<ColumnFamilyHandle> columnFamilies = new ArrayList<>(names.size());
        final RocksDBInstance instance =
                opener.open(path, RocksDBInstance.names(names), columnFamilies);
        try {
            for (int i = 0; i < metaInfos.size(); i++) {
                register(instance, metaInfos.get(i), columnFamilies.get(i));
            }
            return instance;
        } catch (Throwable t) {
            instance.close();
            throw t;
        }
    }

    private void register(
            RocksDBInstance instance,
            StateMetaInfoSnapshot snapshot,
            ColumnFamilyHandle columnFamily)
            throws Exception {
        switch (snapshot.getBackendStateType()) {
            case KEY_VALUE:
                registeredStates.put(
                        snapshot.getName(),
                        new RegisteredRocksDBState(
                                columnFamily,
                                new RegisteredKeyValueStateBackendMetaInfo<>(snapshot)));
                break;
            case PRIORITY_QUEUE:
                RegisteredPriorityQueueStateBackendMetaInfo<?> metaInfo =
                        new RegisteredPriorityQueueStateBackendMetaInfo<>(snapshot);
                if (heapQueues == null) {
                    registeredStates.put(
                            snapshot.getName(), new RegisteredRocksDBState(columnFamily, metaInfo));
                } else {
                    // timers live on the heap now: move them there
                    moveTimersToHeap(instance, columnFamily, metaInfo);
                    instance.dropColumnFamily(columnFamily);
                }
                break;
            default:
                throw new StateMigrationException(
                        "State '"
                                + snapshot.getName()
                                + "' has backend state type "
                                + snapshot.getBackendStateType()
                                + ", which keyed state cannot hold.");
        }
    }

    private void moveTimersToHeap(
            RocksDBInstance instance,
            ColumnFamilyHandle columnFamily,
            RegisteredPriorityQueueStateBackendMetaInfo<?> metaInfo)
            throws IOException {
        HeapTimerRestore.TimerSink sink =
                HeapTimerRestore.sinkFor(
                        heapQueues,
                        metaInfo,
                        keyGroupRange,
                        numberOfKeyGroups,
                        keyGroupPrefixBytes);
        try (RocksIterator iterator =
                instance.getDb().newIterator(columnFamily, instance.getReadOptions())) {
            for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                sink.add(iterator.key());
            }
        }
    }
}
