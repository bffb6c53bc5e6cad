package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.metrics.IncrementalRocksDBMetrics;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.rocksdb.SharedDbFiles;
import io.statebackend.incremental.transfer.RocksDBStateUploader;
import io.statebackend.incremental.transfer.RocksDBStateUploader.FileUpload;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.memory.DataOutputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.filemerging.FileMergingSnapshotManager;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.DirectoryStateHandle;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalSnapshotDirectoryProvider;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SnapshotResources;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategy;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.Preconditions;
import org.apache.flink.util.ResourceGuard;

import org.rocksdb.Checkpoint;
import org.rocksdb.RocksDB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nonnull;
import javax.annotation.Nullable;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Incremental checkpoints of one keyed backend's RocksDB instance.
 *
 * <p>The synchronous part takes a RocksDB checkpoint (hard links to the live files, after a flush)
 * into a fresh local directory and captures the state meta data. The asynchronous part uploads the
 * files: an SST file that is still alive at the JobManager is referred to by a placeholder naming
 * that upload's physical handle; every other SST is uploaded as shared state; MANIFEST, CURRENT,
 * OPTIONS and logs are private to the checkpoint. A meta data stream ({@link
 * IncrementalSnapshotMetaData}) records the states and each file's size and checksum.
 *
 * <p>Which uploads a checkpoint may refer to is decided in its synchronous part by {@link
 * ReusableSharedFiles}, which alone hears the complete, abort and subsume notifications. A lost,
 * late or reordered notification only costs a re-upload.
 */
public final class RocksDBIncrementalSnapshotOperation<K> {

    private static final Logger LOG =
            LoggerFactory.getLogger(RocksDBIncrementalSnapshotOperation.class);

    /** Sub-directory of a local copy that holds RocksDB's files. */
    public static final String LOCAL_DB_DIRECTORY = "db";

    /** File of a local copy that holds the snapshot's meta data, beside {@code db/}. */
    public static final String LOCAL_METADATA_FILE = "metadata";

    private final RocksDB db;
    private final ResourceGuard dbResourceGuard;
    private final Map<String, RegisteredRocksDBState> registeredStates;
    private final TypeSerializer<K> keySerializer;
    private final KeyGroupRange keyGroupRange;
    private final UUID backendUID;
    private final File instanceDirectory;
    private final RocksDBStateUploader uploader;

    /** Where local copies of checkpoints go, if local recovery keeps them; else null. */
    @Nullable private final LocalSnapshotDirectoryProvider localSnapshotDirectories;

    /**
     * Name of this backend's local copy inside a checkpoint's subtask directory. Unique per
     * backend, so that chained operators of one task do not overwrite each other's copies.
     */
    private final String localCopyName;

    private final IncrementalRocksDBMetrics metrics;

    /** Makes local checkpoint directories unique when a checkpoint id is snapshotted twice. */
    private final AtomicLong localDirectoryCounter = new AtomicLong();

    private final ReusableSharedFiles reusableSharedFiles;

    /** Uploads of new SST files started before a checkpoint needed them; null if not used. */
    @Nullable private final SstUploadAhead uploadAhead;

    /**
     * @param localSnapshotDirectories where local copies of checkpoints are kept for local
     *     recovery, or null to keep none
     * @param localCopyName the name of this backend's local copy in a checkpoint's directory
     * @param metrics where the figures of every checkpoint are reported
     * @param restoredCheckpointId the checkpoint this backend was restored from, or a negative id
     * @param restoredSharedFiles the shared files of that checkpoint, which later checkpoints may
     *     refer to; empty if none
     * @param uploadAhead the uploads of SST files started as RocksDB wrote them, which checkpoints
     *     take over; null if files are uploaded only by checkpoints
     */
    public RocksDBIncrementalSnapshotOperation(
            RocksDB db,
            ResourceGuard dbResourceGuard,
            Map<String, RegisteredRocksDBState> registeredStates,
            TypeSerializer<K> keySerializer,
            KeyGroupRange keyGroupRange,
            UUID backendUID,
            File instanceDirectory,
            RocksDBStateUploader uploader,
            @Nullable LocalSnapshotDirectoryProvider localSnapshotDirectories,
            String localCopyName,
            IncrementalRocksDBMetrics metrics,
            long restoredCheckpointId,
            Map<String, StateFile> restoredSharedFiles,
            @Nullable SstUploadAhead uploadAhead) {
        this.db = Preconditions.checkNotNull(db);
        this.dbResourceGuard = Preconditions.checkNotNull(dbResourceGuard);
        this.registeredStates = Preconditions.checkNotNull(registeredStates);
        this.keySerializer = Preconditions.checkNotNull(keySerializer);
        this.keyGroupRange = Preconditions.checkNotNull(keyGroupRange);
        this.backendUID = Preconditions.checkNotNull(backendUID);
        this.instanceDirectory = Preconditions.checkNotNull(instanceDirectory);
        this.uploader = Preconditions.checkNotNull(uploader);
        this.localSnapshotDirectories = localSnapshotDirectories;
        this.localCopyName = Preconditions.checkNotNull(localCopyName);
        this.metrics = Preconditions.checkNotNull(metrics);
        this.reusableSharedFiles =
                new ReusableSharedFiles(restoredCheckpointId, restoredSharedFiles);
        this.uploadAhead = uploadAhead;
    }

    public UUID getBackendUID() {
        return backendUID;
    }

    /**
     * The snapshot strategy for one kind of snapshot: checkpoints keep a local copy when local
     * recovery asks for one, savepoints never do.
     *
     * @param streamFactory the storage of this snapshot, asked in the synchronous part whether a
     *     handle may be reused
     */
    public SnapshotStrategy<KeyedStateHandle, IncrementalSnapshotResources> strategyFor(
            CheckpointType type, CheckpointStreamFactory streamFactory) {
        Preconditions.checkArgument(
                type != CheckpointType.SAVEPOINT_CANONICAL,
                "Canonical savepoints are not written from RocksDB's files.");
        return new SnapshotStrategy<KeyedStateHandle, IncrementalSnapshotResources>() {
            @Override
            public IncrementalSnapshotResources syncPrepareResources(long checkpointId)
                    throws Exception {
                return prepareResources(checkpointId, type, streamFactory);
            }

            @Override
            public SnapshotResultSupplier<KeyedStateHandle> asyncSnapshot(
                    IncrementalSnapshotResources resources,
                    long checkpointId,
                    long timestamp,
                    @Nonnull CheckpointStreamFactory asyncStreamFactory,
                    @Nonnull CheckpointOptions checkpointOptions) {
                if (resources.isEmpty()) {
                    return registry -> SnapshotResult.empty();
                }
                return registry ->
                        uploadSnapshot(resources, checkpointId, asyncStreamFactory, registry, type);
            }
        };
    }

    // ------------------------------------------------------------------------
    //  synchronous part
    // ------------------------------------------------------------------------

    private IncrementalSnapshotResources prepareResources(
            long checkpointId, CheckpointType type, CheckpointStreamFactory streamFactory)
            throws Exception {
        final List<StateMetaInfoSnapshot> metaInfos = new ArrayList<>(registeredStates.size());
        for (RegisteredRocksDBState state : registeredStates.values()) {
            metaInfos.add(state.getMetaInfo().snapshot());
        }
        if (metaInfos.isEmpty()) {
            return IncrementalSnapshotResources.EMPTY;
        }

        // The lease keeps the database open only while RocksDB links its files: the asynchronous
        // part reads those links and never the database, so dispose need not wait for an upload.
        // Taken first, so that a closing backend creates no local copy it would leave behind.
        final ResourceGuard.Lease lease;
        try {
            lease = dbResourceGuard.acquireResource();
        } catch (IOException e) {
            throw new IOException(
                    "Could not take checkpoint " + checkpointId + ": the backend is closing.", e);
        }
        File localCopy;
        final File checkpointDirectory;
        try (lease) {
            localCopy = type.isSavepoint() ? null : prepareLocalCopyDirectory(checkpointId);
            if (localCopy != null && !takeLocalCopy(checkpointId, localCopy)) {
                localCopy = null;
            }
            if (localCopy != null) {
                checkpointDirectory = new File(localCopy, LOCAL_DB_DIRECTORY);
            } else {
                checkpointDirectory =
                        new File(
                                instanceDirectory,
                                "chk-"
                                        + checkpointId
                                        + "-"
                                        + localDirectoryCounter.incrementAndGet());
                createRocksDBCheckpoint(checkpointId, checkpointDirectory, checkpointDirectory);
            }
        }
        final File[] files = checkpointDirectory.listFiles();
        if (files == null) {
            FileUtils.deleteDirectoryQuietly(localCopy != null ? localCopy : checkpointDirectory);
            throw new IOException(
                    "Could not list the local checkpoint directory " + checkpointDirectory);
        }
        Arrays.sort(files);
        final Map<String, StateFile> referred;
        if (type == CheckpointType.SAVEPOINT_NATIVE) {
            // a savepoint owns all its files and is never referred to
            referred = Collections.emptyMap();
        } else {
            final Map<String, Long> sharedFileSizes = new HashMap<>();
            for (File file : files) {
                if (SharedDbFiles.isShareable(file.getName())) {
                    sharedFileSizes.put(file.getName(), file.length());
                }
            }
            referred =
                    reusableSharedFiles.checkpointTaken(
                            checkpointId,
                            type == CheckpointType.FULL,
                            sharedFileSizes,
                            streamFactory::couldReuseStateHandle);
        }
        return new IncrementalSnapshotResources(
                checkpointDirectory, files, localCopy, metaInfos, referred);
    }

    /**
     * Takes the RocksDB checkpoint as the local copy; returns false, with nothing of it left, if
     * that failed. The local state directory may sit on another disk, full or failing: the
     * checkpoint does not need it, recovery then downloads instead.
     */
    private boolean takeLocalCopy(long checkpointId, File localCopy) {
        try {
            createRocksDBCheckpoint(
                    checkpointId, new File(localCopy, LOCAL_DB_DIRECTORY), localCopy);
            return true;
        } catch (IOException e) {
            LOG.warn(
                    "Could not take checkpoint {} as a local copy in {}; it is taken without one.",
                    checkpointId,
                    localCopy,
                    e);
            return false;
        }
    }

    /**
     * Flushes the memtables (the write-ahead log is off) and hard-links the live files into {@code
     * checkpointDirectory}; on failure deletes {@code owningDirectory}, which contains it.
     */
    private void createRocksDBCheckpoint(
            long checkpointId, File checkpointDirectory, File owningDirectory) throws IOException {
        try (Checkpoint checkpoint = Checkpoint.create(db)) {
            checkpoint.createCheckpoint(checkpointDirectory.getAbsolutePath());
        } catch (Throwable t) {
            FileUtils.deleteDirectoryQuietly(owningDirectory);
            throw new IOException(
                    "Could not take the RocksDB checkpoint for checkpoint "
                            + checkpointId
                            + " in "
                            + checkpointDirectory
                            + ": "
                            + t.getMessage(),
                    t);
        }
    }

    /**
     * Creates the directory of this backend's local copy of a checkpoint, or returns null if local
     * recovery keeps none or the directory cannot be created: a checkpoint without a local copy is
     * still a checkpoint, recovery then downloads it.
     */
    @Nullable
    private File prepareLocalCopyDirectory(long checkpointId) {
        if (localSnapshotDirectories == null) {
            return null;
        }
        final File directory =
                new File(
                        localSnapshotDirectories.subtaskSpecificCheckpointDirectory(checkpointId),
                        localCopyName);
        try {
            if (directory.exists()) {
                // left from an earlier attempt at the same checkpoint id
                FileUtils.deleteDirectory(directory);
            }
            Files.createDirectories(directory.toPath());
            return directory;
        } catch (IOException e) {
            LOG.warn(
                    "Could not create the local copy {} of checkpoint {}; it is taken without one.",
                    directory,
                    checkpointId,
                    e);
            FileUtils.deleteDirectoryQuietly(directory);
            return null;
        }
    }

    // ------------------------------------------------------------------------
    //  asynchronous part
    // ------------------------------------------------------------------------

    /**
     * Uploads the files of the local RocksDB checkpoint, except the SST files that the synchronous
     * part decided to refer to. A native savepoint uploads every file exclusively into the
     * savepoint's own location, so that it stays valid wherever the savepoint directory is moved
     * and whatever happens to the checkpoints, and none of its files are ever referred to.
     */
    private SnapshotResult<KeyedStateHandle> uploadSnapshot(
            IncrementalSnapshotResources resources,
            long checkpointId,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry registry,
            CheckpointType type)
            throws Exception {
        final boolean savepoint = type == CheckpointType.SAVEPOINT_NATIVE;
        try {
            return uploadFiles(resources, checkpointId, streamFactory, registry, savepoint);
        } catch (Throwable t) {
            if (!savepoint) {
                reusableSharedFiles.checkpointFailed(checkpointId);
            }
            throw t;
        }
    }

    private SnapshotResult<KeyedStateHandle> uploadFiles(
            IncrementalSnapshotResources resources,
            long checkpointId,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry registry,
            boolean savepoint)
            throws Exception {
        final long startNanos = System.nanoTime();
        if (uploadAhead != null && !savepoint) {
            uploadAhead.useStorage(streamFactory);
        }
        final List<FileUpload> uploads = new ArrayList<>(resources.files.length);
        final List<StateFile> reused = new ArrayList<>();
        for (File file : resources.files) {
            final String name = file.getName();
            if (SharedDbFiles.isShareable(name) && !savepoint) {
                StateFile referred = resources.referredSstFiles.get(name);
                if (referred != null) {
                    reused.add(referred);
                } else {
                    uploads.add(
                            new FileUpload(
                                    file.toPath(),
                                    CheckpointedStateScope.SHARED,
                                    uploadAhead == null
                                            ? null
                                            : uploadAhead.takeOver(name, file.length())));
                }
            } else {
                uploads.add(new FileUpload(file.toPath(), CheckpointedStateScope.EXCLUSIVE));
            }
        }
        if (!reused.isEmpty()) {
            List<StreamStateHandle> reusedHandles = new ArrayList<>(reused.size());
            for (StateFile file : reused) {
                reusedHandles.add(file.getHandle());
            }
            streamFactory.reusePreviousStateHandle(reusedHandles);
        }

        final List<StateFile> uploaded = uploader.upload(uploads, streamFactory, registry);

        StreamStateHandle metaStateHandle = null;
        try {
            final Map<String, StateFile> sharedFiles = new HashMap<>();
            final List<StateFile> uploadedSharedFiles = new ArrayList<>();
            final List<HandleAndLocalPath> sharedState = new ArrayList<>();
            final List<HandleAndLocalPath> privateState = new ArrayList<>();
            final List<IncrementalSnapshotMetaData.FileEntry> entries = new ArrayList<>();
            long uploadedBytes = 0;
            for (StateFile file : uploaded) {
                uploadedBytes += file.getSize();
                entries.add(entryOf(file));
                if (SharedDbFiles.isShareable(file.getName()) && !savepoint) {
                    sharedFiles.put(file.getName(), file);
                    uploadedSharedFiles.add(file);
                    sharedState.add(HandleAndLocalPath.of(file.getHandle(), file.getName()));
                } else {
                    privateState.add(HandleAndLocalPath.of(file.getHandle(), file.getName()));
                }
            }
            long reusedBytes = 0;
            for (StateFile file : reused) {
                reusedBytes += file.getSize();
                StreamStateHandle physical = file.getHandle();
                sharedFiles.put(file.getName(), file);
                entries.add(entryOf(file));
                sharedState.add(
                        HandleAndLocalPath.of(
                                new PlaceholderStreamStateHandle(
                                        physical.getStreamStateHandleID(),
                                        physical.getStateSize(),
                                        FileMergingSnapshotManager.isFileMergingHandle(physical)),
                                file.getName()));
            }

            final byte[] metaData = serializeMetaData(resources.metaInfoSnapshots, entries);
            metaStateHandle =
                    uploader.uploadBytes(
                            "the meta data of checkpoint " + checkpointId,
                            metaData,
                            CheckpointedStateScope.EXCLUSIVE,
                            streamFactory,
                            registry);
            uploadedBytes += metaStateHandle.getStateSize();

            final IncrementalRemoteKeyedStateHandle handle =
                    new IncrementalRemoteKeyedStateHandle(
                            backendUID,
                            keyGroupRange,
                            checkpointId,
                            sharedState,
                            privateState,
                            metaStateHandle,
                            uploadedBytes);

            final KeyedStateHandle localHandle =
                    resources.localCopy == null
                            ? null
                            : completeLocalCopy(resources, checkpointId, metaData, sharedFiles);
            if (!savepoint) {
                // a savepoint's files belong to the savepoint alone: never reused
                reusableSharedFiles.checkpointUploaded(checkpointId, uploadedSharedFiles);
                metrics.reportCheckpoint(
                        checkpointId,
                        uploaded.size() + 1,
                        uploadedBytes,
                        reused.size(),
                        reusedBytes,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
            }
            LOG.debug(
                    "{} {} of backend {}: uploaded {} files ({} bytes), reused {} SST files.",
                    savepoint ? "Native savepoint" : "Checkpoint",
                    checkpointId,
                    backendUID,
                    uploaded.size(),
                    uploadedBytes,
                    reused.size());
            if (localHandle != null) {
                // from now on the copy belongs to Flink's task-local state store
                resources.keepLocalCopy();
                return SnapshotResult.withLocalState(handle, localHandle);
            }
            return SnapshotResult.of(handle);
        } catch (Throwable t) {
            for (StateFile file : uploaded) {
                discardQuietly(file.getHandle(), t);
            }
            if (metaStateHandle != null) {
                discardQuietly(metaStateHandle, t);
            }
            throw t;
        }
    }

    private static IncrementalSnapshotMetaData.FileEntry entryOf(StateFile file) {
        return new IncrementalSnapshotMetaData.FileEntry(
                file.getName(), file.getSize(), file.getChecksum());
    }

    private byte[] serializeMetaData(
            List<StateMetaInfoSnapshot> metaInfos,
            List<IncrementalSnapshotMetaData.FileEntry> files)
            throws IOException {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(4096);
        IncrementalSnapshotMetaData.write(
                new DataOutputViewStreamWrapper(bytes), keySerializer, metaInfos, files);
        return bytes.toByteArray();
    }

    /**
     * Writes the meta data beside the local copy's files and describes the copy. The copy's shared
     * state lists the physical handles in checkpoint storage of its SST files, so that a backend
     * restored from the copy may refer to them. Returns null if the meta data cannot be written:
     * the checkpoint is then reported without a local copy, which is deleted.
     */
    @Nullable
    private KeyedStateHandle completeLocalCopy(
            IncrementalSnapshotResources resources,
            long checkpointId,
            byte[] metaData,
            Map<String, StateFile> sharedFiles) {
        final File localCopy = resources.localCopy;
        final Path metaDataFile = new File(localCopy, LOCAL_METADATA_FILE).toPath();
        try {
            Files.write(metaDataFile, metaData, StandardOpenOption.CREATE_NEW);
            final long directorySize =
                    FileUtils.getDirectoryFilesSize(resources.checkpointDirectory.toPath());
            final List<HandleAndLocalPath> sharedState = new ArrayList<>(sharedFiles.size());
            for (StateFile file : sharedFiles.values()) {
                sharedState.add(HandleAndLocalPath.of(file.getHandle(), file.getName()));
            }
            return new IncrementalLocalKeyedStateHandle(
                    backendUID,
                    checkpointId,
                    new DirectoryStateHandle(localCopy.toPath(), directorySize),
                    keyGroupRange,
                    new FileStateHandle(
                            new org.apache.flink.core.fs.Path(metaDataFile.toUri()),
                            metaData.length),
                    sharedState);
        } catch (IOException e) {
            LOG.warn(
                    "Could not complete the local copy {} of checkpoint {}; it is reported"
                            + " without one.",
                    localCopy,
                    checkpointId,
                    e);
            return null;
        }
    }

    private static void discardQuietly(StreamStateHandle handle, Throwable failure) {
        try {
            handle.discardState();
        } catch (Exception e) {
            failure.addSuppressed(e);
        }
    }

    // ------------------------------------------------------------------------
    //  which uploads may be reused
    // ------------------------------------------------------------------------

    public void notifyCheckpointComplete(long checkpointId) {
        reusableSharedFiles.complete(checkpointId);
    }

    public void notifyCheckpointAborted(long checkpointId) {
        reusableSharedFiles.aborted(checkpointId);
    }

    public void notifyCheckpointSubsumed(long checkpointId) {
        reusableSharedFiles.subsumed(checkpointId);
    }

    /** The SST files a checkpoint taken now would refer to, by name, for tests. */
    public Map<String, StateFile> getReusableSharedFiles() {
        return reusableSharedFiles.reusable();
    }

    /**
     * Ids of the checkpoints that may be the JobManager's latest completed one, for tests: the last
     * confirmed or restored one and all taken since, unless aborted, failed or older than a
     * confirmed one.
     */
    public List<Long> getCandidateCheckpointIds() {
        return reusableSharedFiles.candidateIds();
    }

    // ------------------------------------------------------------------------

    /**
     * What the synchronous part hands to the asynchronous one: the local RocksDB checkpoint and the
     * meta data captured with it. It holds no lease on the database: the checkpoint's hard links
     * stay readable whatever happens to the database, and a backend disposed meanwhile deletes its
     * instance directory, which fails the (already cancelled) upload. Releasing deletes the
     * checkpoint's files, unless they became a local copy reported to Flink.
     */
    public static final class IncrementalSnapshotResources implements SnapshotResources {

        static final IncrementalSnapshotResources EMPTY =
                new IncrementalSnapshotResources(
                        null, new File[0], null, Collections.emptyList(), Collections.emptyMap());

        /** Where RocksDB's files are: in the instance directory, or in the local copy. */
        @Nullable private final File checkpointDirectory;

        /** The files of {@link #checkpointDirectory}, sorted by name. */
        private final File[] files;

        /** The local copy for local recovery that holds {@link #checkpointDirectory}, if any. */
        @Nullable private final File localCopy;

        private final List<StateMetaInfoSnapshot> metaInfoSnapshots;

        /** The SST files this snapshot refers to instead of uploading them, by name. */
        private final Map<String, StateFile> referredSstFiles;

        private final AtomicBoolean released = new AtomicBoolean();
        private volatile boolean localCopyKept;

        IncrementalSnapshotResources(
                @Nullable File checkpointDirectory,
                File[] files,
                @Nullable File localCopy,
                List<StateMetaInfoSnapshot> metaInfoSnapshots,
                Map<String, StateFile> referredSstFiles) {
            this.checkpointDirectory = checkpointDirectory;
            this.files = files;
            this.localCopy = localCopy;
            this.metaInfoSnapshots = metaInfoSnapshots;
            this.referredSstFiles = referredSstFiles;
        }

        boolean isEmpty() {
            return checkpointDirectory == null;
        }

        void keepLocalCopy() {
            localCopyKept = true;
        }

        @Override
        public void release() {
            if (checkpointDirectory == null || !released.compareAndSet(false, true)) {
                return;
            }
            try {
                if (localCopy == null) {
                    FileUtils.deleteDirectory(checkpointDirectory);
                } else if (!localCopyKept) {
                    FileUtils.deleteDirectory(localCopy);
                }
            } catch (IOException e) {
                LOG.warn(
                        "Could not delete the local checkpoint directory {}.",
                        localCopy == null ? checkpointDirectory : localCopy,
                        e);
            }
        }
    }
}
