package io.statebackend.incremental.restore;

import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.snapshot.IncrementalSnapshotMetaData;
import io.statebackend.incremental.snapshot.RocksDBIncrementalSnapshotOperation;
import io.statebackend.incremental.transfer.RocksDBStateDownloader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.StateSerializerProvider;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;
import org.apache.flink.util.StateMigrationException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
 *
 * <p>When the key-group range changed (rescaling), the snapshot overlapping most with the new range
 * is restored that way and clipped to the range by key-group prefix; the in-range entries of the
 * other snapshots are copied in from temporary databases, which are dropped afterwards.
 *
 * <p>A local copy of a checkpoint ({@link IncrementalLocalKeyedStateHandle}, local recovery) is
 * placed into the fresh directory without any download and verified against its meta data the same
 * way.
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
        private final long downloadedBytes;
        private final long downloadNanos;

        Result(
                RocksDBInstance instance,
                long restoredCheckpointId,
                Map<String, StateFile> restoredSstFiles,
                long downloadedBytes,
                long downloadNanos) {
            this.instance = instance;
            this.restoredCheckpointId = restoredCheckpointId;
            this.restoredSstFiles = restoredSstFiles;
            this.downloadedBytes = downloadedBytes;
            this.downloadNanos = downloadNanos;
        }

        /**
         * Nanoseconds spent making the snapshot's files local: downloads, or placing the files of a
         * local copy. The rest of the restore opens, clips and fills the database.
         */
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
    private final List<? extends KeyedStateHandle> stateHandles;
    private final StateSerializerProvider<K> keySerializerProvider;
    private final File instanceDirectory;
    private final File dbDirectory;
    private final InstanceOpener opener;
    private final RocksDBStateDownloader downloader;
    private final CloseableRegistry cancelStreamRegistry;
    private final Map<String, RegisteredRocksDBState> registeredStates;
    @Nullable private final Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues;
    private final long writeBatchSize;

    private boolean keySerializerChecked;

    /** Bytes of the files downloaded so far. */
    private long downloadedBytes;

    /** Nanoseconds spent downloading or placing files so far. */
    private long downloadNanos;

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
            long writeBatchSize) {
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
        this.writeBatchSize = writeBatchSize;
    }

    public Result restore() throws Exception {
        if (stateHandles.size() == 1
                && stateHandles.get(0) instanceof IncrementalLocalKeyedStateHandle) {
            return restoreFromLocalCopy((IncrementalLocalKeyedStateHandle) stateHandles.get(0));
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
        if (remote.size() == 1 && remote.get(0).getKeyGroupRange().equals(keyGroupRange)) {
            return restoreWithoutRescaling(remote.get(0));
        }
        return restoreWithRescaling(remote);
    }

    /**
     * Restores from the local copy that local recovery kept of a checkpoint, without downloading
     * anything. Fails, leaving nothing behind, if the copy is incomplete or damaged: Flink then
     * restores from the checkpoint in checkpoint storage instead.
     */
    private Result restoreFromLocalCopy(IncrementalLocalKeyedStateHandle handle) throws Exception {
        final long checkpointId = handle.getCheckpointId();
        if (!handle.getKeyGroupRange().equals(keyGroupRange)) {
            throw new IOException(
                    "The local copy of checkpoint "
                            + checkpointId
                            + " holds key groups "
                            + handle.getKeyGroupRange()
                            + ", the backend "
                            + keyGroupRange
                            + ": a local copy restores only its own key-group range.");
        }
        final IncrementalSnapshotMetaData metaData =
                readMetaData(handle.getMetaDataStateHandle(), checkpointId);
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

        final Path restoreDirectory = newTemporaryDirectory("restore");
        final long placeStart = System.nanoTime();
        downloader.placeLocalCopy(checkpointId, localFiles, restoreDirectory, cancelStreamRegistry);
        downloadNanos += System.nanoTime() - placeStart;
        moveIntoPlace(restoreDirectory, checkpointId);
        final RocksDBInstance instance =
                openAndRegister(dbDirectory, metaData.getStateMetaInfoSnapshots());

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
        return new Result(
                instance, checkpointId, Collections.unmodifiableMap(sstFiles), 0L, downloadNanos);
    }

    private void download(long checkpointId, List<StateFile> files, Path targetDirectory)
            throws Exception {
        final long start = System.nanoTime();
        downloader.download(checkpointId, files, targetDirectory, cancelStreamRegistry);
        downloadNanos += System.nanoTime() - start;
        for (StateFile file : files) {
            downloadedBytes += file.getSize();
        }
    }

    private void moveIntoPlace(Path restoredDirectory, long checkpointId) throws IOException {
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

    private Result restoreWithoutRescaling(IncrementalRemoteKeyedStateHandle handle)
            throws Exception {
        final IncrementalSnapshotMetaData metaData = readMetaData(handle);
        final List<StateFile> files = filesOf(handle, metaData);

        final Path downloadDirectory = newTemporaryDirectory("restore");
        download(handle.getCheckpointId(), files, downloadDirectory);
        moveIntoPlace(downloadDirectory, handle.getCheckpointId());

        final RocksDBInstance instance =
                openAndRegister(dbDirectory, metaData.getStateMetaInfoSnapshots());

        // only shared files may be referred to later; the private files of a native savepoint
        // belong to the savepoint, which its owner may delete or move at any time
        final Set<String> shared = new HashSet<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            shared.add(file.getLocalPath());
        }
        final Map<String, StateFile> sstFiles = new HashMap<>();
        for (StateFile file : files) {
            if (file.getName().endsWith(".sst") && shared.contains(file.getName())) {
                sstFiles.put(file.getName(), file);
            }
        }
        return new Result(
                instance,
                handle.getCheckpointId(),
                Collections.unmodifiableMap(sstFiles),
                downloadedBytes,
                downloadNanos);
    }

    /**
     * Restores from snapshots of other key-group ranges: the snapshot that overlaps most with the
     * new range becomes the database, clipped to the range; the entries of the others that lie in
     * the range are copied in from temporary databases.
     */
    private Result restoreWithRescaling(List<IncrementalRemoteKeyedStateHandle> stateHandles)
            throws Exception {
        // read every meta data and check every name before downloading anything
        final List<IncrementalSnapshotMetaData> metaData = new ArrayList<>(stateHandles.size());
        final List<List<StateFile>> files = new ArrayList<>(stateHandles.size());
        int base = 0;
        int baseOverlap = -1;
        for (int i = 0; i < stateHandles.size(); i++) {
            IncrementalRemoteKeyedStateHandle handle = stateHandles.get(i);
            metaData.add(readMetaData(handle));
            files.add(filesOf(handle, metaData.get(i)));
            int overlap =
                    handle.getKeyGroupRange().getIntersection(keyGroupRange).getNumberOfKeyGroups();
            if (overlap > baseOverlap) {
                base = i;
                baseOverlap = overlap;
            }
        }

        final IncrementalRemoteKeyedStateHandle baseHandle = stateHandles.get(base);
        final Path downloadDirectory = newTemporaryDirectory("restore");
        download(baseHandle.getCheckpointId(), files.get(base), downloadDirectory);
        moveIntoPlace(downloadDirectory, baseHandle.getCheckpointId());
        final RocksDBInstance instance =
                openAndRegister(dbDirectory, metaData.get(base).getStateMetaInfoSnapshots());
        try {
            clipToKeyGroupRange(instance, baseHandle.getKeyGroupRange());
            for (int i = 0; i < stateHandles.size(); i++) {
                if (i != base) {
                    copyInRange(instance, stateHandles.get(i), metaData.get(i), files.get(i));
                }
            }
        } catch (Throwable t) {
            instance.close();
            throw t;
        }
        // the files are not those of one checkpoint any more: nothing to reuse
        return new Result(instance, -1L, Collections.emptyMap(), downloadedBytes, downloadNanos);
    }

    /** Deletes the entries of key groups outside the backend's range from every column family. */
    private void clipToKeyGroupRange(RocksDBInstance instance, KeyGroupRange snapshotRange)
            throws RocksDBException {
        final boolean clipBelow =
                snapshotRange.getStartKeyGroup() < keyGroupRange.getStartKeyGroup();
        final boolean clipAbove = snapshotRange.getEndKeyGroup() > keyGroupRange.getEndKeyGroup();
        if (!clipBelow && !clipAbove) {
            return;
        }
        final byte[] lowest = new byte[keyGroupPrefixBytes];
        final byte[] start = keyGroupPrefix(keyGroupRange.getStartKeyGroup());
        final byte[] afterEnd = keyGroupPrefix(keyGroupRange.getEndKeyGroup() + 1);
        // key groups are below 2^15, so a prefix of 0xFF bytes sorts after every key
        final byte[] beyondAll = new byte[keyGroupPrefixBytes];
        Arrays.fill(beyondAll, (byte) 0xFF);
        for (RegisteredRocksDBState state : registeredStates.values()) {
            if (clipBelow) {
                instance.getDb().deleteRange(state.getColumnFamily(), lowest, start);
            }
            if (clipAbove) {
                instance.getDb().deleteRange(state.getColumnFamily(), afterEnd, beyondAll);
            }
        }
    }

    /** Copies the entries of one snapshot that lie in the backend's key-group range. */
    private void copyInRange(
            RocksDBInstance target,
            IncrementalRemoteKeyedStateHandle handle,
            IncrementalSnapshotMetaData metaData,
            List<StateFile> files)
            throws Exception {
        final Path temporary = newTemporaryDirectory("rescale");
        download(handle.getCheckpointId(), files, temporary);
        try {
            final List<StateMetaInfoSnapshot> metaInfos = metaData.getStateMetaInfoSnapshots();
            final List<String> names = new ArrayList<>(metaInfos.size());
            for (StateMetaInfoSnapshot metaInfo : metaInfos) {
                names.add(metaInfo.getName());
            }
            final List<ColumnFamilyHandle> sources = new ArrayList<>(names.size());
            try (RocksDBInstance source =
                            opener.open(temporary.toFile(), RocksDBInstance.names(names), sources);
                    WriteBatch batch = new WriteBatch()) {
                for (int i = 0; i < metaInfos.size(); i++) {
                    EntrySink sink = sinkFor(target, metaInfos.get(i));
                    try (RocksIterator iterator =
                            source.getDb().newIterator(sources.get(i), source.getReadOptions())) {
                        for (seekToRange(iterator); inRange(iterator); iterator.next()) {
                            sink.add(iterator.key(), iterator.value(), batch);
                            if (writeBatchSize > 0 && batch.getDataSize() >= writeBatchSize) {
                                write(target, batch);
                            }
                        }
                    }
                    write(target, batch);
                }
            }
        } finally {
            FileUtils.deleteDirectoryQuietly(temporary.toFile());
        }
    }

    /** Where the entries of one state of another snapshot go. */
    private interface EntrySink {
        void add(byte[] key, byte[] value, WriteBatch batch) throws Exception;
    }

    private EntrySink sinkFor(RocksDBInstance target, StateMetaInfoSnapshot snapshot)
            throws Exception {
        if (snapshot.getBackendStateType() == StateMetaInfoSnapshot.BackendStateType.PRIORITY_QUEUE
                && heapQueues != null) {
            HeapTimerRestore.TimerSink timers =
                    HeapTimerRestore.sinkFor(
                            heapQueues,
                            new RegisteredPriorityQueueStateBackendMetaInfo<>(snapshot),
                            keyGroupRange,
                            numberOfKeyGroups,
                            keyGroupPrefixBytes);
            return (key, value, batch) -> timers.add(key);
        }
        RegisteredRocksDBState state = registeredStates.get(snapshot.getName());
        if (state == null) {
            ColumnFamilyHandle columnFamily = target.createColumnFamily(snapshot.getName());
            register(target, snapshot, columnFamily);
            state = registeredStates.get(snapshot.getName());
        } else if ((state.getMetaInfo() instanceof RegisteredPriorityQueueStateBackendMetaInfo)
                != (snapshot.getBackendStateType()
                        == StateMetaInfoSnapshot.BackendStateType.PRIORITY_QUEUE)) {
            throw new StateMigrationException(
                    "State '"
                            + snapshot.getName()
                            + "' is of type "
                            + snapshot.getBackendStateType()
                            + " in one snapshot and of another type in another.");
        }
        final ColumnFamilyHandle columnFamily = state.getColumnFamily();
        return (key, value, batch) -> batch.put(columnFamily, key, value);
    }

    private static void write(RocksDBInstance target, WriteBatch batch) throws RocksDBException {
        if (batch.count() > 0) {
            target.getDb().write(target.getWriteOptions(), batch);
            batch.clear();
        }
    }

    private void seekToRange(RocksIterator iterator) {
        iterator.seek(keyGroupPrefix(keyGroupRange.getStartKeyGroup()));
    }

    private boolean inRange(RocksIterator iterator) {
        return iterator.isValid() && keyGroupOf(iterator.key()) <= keyGroupRange.getEndKeyGroup();
    }

    private byte[] keyGroupPrefix(int keyGroup) {
        byte[] prefix = new byte[keyGroupPrefixBytes];
        CompositeKeySerializationUtils.serializeKeyGroup(keyGroup, prefix);
        return prefix;
    }

    private int keyGroupOf(byte[] key) {
        int keyGroup = 0;
        for (int i = 0; i < keyGroupPrefixBytes; i++) {
            keyGroup = (keyGroup << 8) | (key[i] & 0xFF);
        }
        return keyGroup;
    }

    // ------------------------------------------------------------------------
    //  meta data and files
    // ------------------------------------------------------------------------

    private IncrementalSnapshotMetaData readMetaData(IncrementalRemoteKeyedStateHandle handle)
            throws Exception {
        return readMetaData(handle.getMetaDataStateHandle(), handle.getCheckpointId());
    }

    @SuppressWarnings("unchecked")
    private IncrementalSnapshotMetaData readMetaData(
            StreamStateHandle metaDataHandle, long checkpointId) throws Exception {
        final IncrementalSnapshotMetaData metaData;
        FSDataInputStream in = null;
        try {
            in = metaDataHandle.openInputStream();
            cancelStreamRegistry.registerCloseable(in);
            metaData =
                    IncrementalSnapshotMetaData.read(
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

        if (!keySerializerChecked) {
            final TypeSerializer<K> currentSerializer =
                    keySerializerProvider.currentSchemaSerializer();
            // this also reconfigures the key serializer, where that is required and possible
            TypeSerializerSchemaCompatibility<K> compatibility =
                    keySerializerProvider.setPreviousSerializerSnapshotForRestoredState(
                            (TypeSerializerSnapshot<K>) metaData.getKeySerializerSnapshot());
            if (compatibility.isCompatibleAfterMigration() || compatibility.isIncompatible()) {
                throw new StateMigrationException(
                        "The new key serializer ("
                                + currentSerializer
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
            for (seekToRange(iterator); inRange(iterator); iterator.next()) {
                sink.add(iterator.key());
            }
        }
    }
}
