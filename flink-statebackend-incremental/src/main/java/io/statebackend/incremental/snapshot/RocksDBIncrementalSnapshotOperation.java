package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.metrics.IncrementalRocksDBMetrics;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.transfer.RocksDBStateUploader;
import io.statebackend.incremental.transfer.RocksDBStateUploader.FileUpload;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.memory.DataOutputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.filemerging.FileMergingSnapshotManager;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
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
import org.apache.flink.util.IOUtils;
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
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Incremental checkpoints of one keyed backend's RocksDB instance.
 *
 * <p>The synchronous part takes a RocksDB checkpoint (hard links to the live files, after a flush)
 * into a fresh local directory and captures the state meta data. The asynchronous part uploads the
 * files: an SST file uploaded by a checkpoint that Flink confirmed complete is referred to by a
 * placeholder naming that upload's physical handle; every other SST is uploaded as shared state;
 * MANIFEST, CURRENT, OPTIONS and logs are private to the checkpoint. A meta data stream ({@link
 * IncrementalSnapshotMetaData}) records the states and each file's size and checksum.
 *
 * <p>Only what a confirmed checkpoint uploaded is reused: the uploads of a checkpoint stay pending
 * until {@link #notifyCheckpointComplete} names it, and are dropped when it is aborted or subsumed,
 * when a later checkpoint is confirmed, or when {@value #MAX_PENDING_CHECKPOINTS} newer checkpoints
 * wait for confirmation. A lost notification only costs a re-upload.
 */
public final class RocksDBIncrementalSnapshotOperation<K> {

    private static final Logger LOG =
            LoggerFactory.getLogger(RocksDBIncrementalSnapshotOperation.class);

    private static final String SST_SUFFIX = ".sst";

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

    private final Object lock = new Object();

    /** SST files of the latest confirmed checkpoint, by file name; immutable, replaced whole. */
    private Map<String, StateFile> confirmedSstFiles;

    private long lastConfirmedCheckpointId;

    /**
     * How many unconfirmed checkpoints keep their uploads on record. Without notifications (lost,
     * or a JobManager that never sends them) the records would grow with every checkpoint; a
     * notification for a checkpoint this far behind the newest one is not worth waiting for, its
     * files are uploaded again instead.
     */
    static final int MAX_PENDING_CHECKPOINTS = 8;

    /** SST files of checkpoints not yet confirmed, by checkpoint id; newer than the confirmed. */
    private final TreeMap<Long, Map<String, StateFile>> pendingSstFiles = new TreeMap<>();

    /**
     * @param localSnapshotDirectories where local copies of checkpoints are kept for local
     *     recovery, or null to keep none
     * @param localCopyName the name of this backend's local copy in a checkpoint's directory
     * @param metrics where the figures of every checkpoint are reported
     * @param confirmedSstFiles SST files known to be part of the completed checkpoint {@code
     *     confirmedCheckpointId}, e.g. the one this backend was restored from; empty if none
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
            long confirmedCheckpointId,
            Map<String, StateFile> confirmedSstFiles) {
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
        this.lastConfirmedCheckpointId = confirmedCheckpointId;
        this.confirmedSstFiles = Collections.unmodifiableMap(new HashMap<>(confirmedSstFiles));
    }

    public UUID getBackendUID() {
        return backendUID;
    }

    /**
     * The snapshot strategy for one kind of snapshot: checkpoints keep a local copy when local
     * recovery asks for one, savepoints never do.
     */
    public SnapshotStrategy<KeyedStateHandle, IncrementalSnapshotResources> strategyFor(
            CheckpointType type) {
        Preconditions.checkArgument(
                type != CheckpointType.SAVEPOINT_CANONICAL,
                "Canonical savepoints are not written from RocksDB's files.");
        return new SnapshotStrategy<KeyedStateHandle, IncrementalSnapshotResources>() {
            @Override
            public IncrementalSnapshotResources syncPrepareResources(long checkpointId)
                    throws Exception {
                return prepareResources(checkpointId, !type.isSavepoint());
            }

            @Override
            public SnapshotResultSupplier<KeyedStateHandle> asyncSnapshot(
                    IncrementalSnapshotResources resources,
                    long checkpointId,
                    long timestamp,
                    @Nonnull CheckpointStreamFactory streamFactory,
                    @Nonnull CheckpointOptions checkpointOptions) {
                if (resources.isEmpty()) {
                    return registry -> SnapshotResult.empty();
                }
                return registry ->
                        uploadSnapshot(resources, checkpointId, streamFactory, registry, type);
            }
        };
    }

    // ------------------------------------------------------------------------
    //  synchronous part
    // ------------------------------------------------------------------------

    private IncrementalSnapshotResources prepareResources(
            long checkpointId, boolean localCopyAllowed) throws Exception {
        final List<StateMetaInfoSnapshot> metaInfos = new ArrayList<>(registeredStates.size());
        for (RegisteredRocksDBState state : registeredStates.values()) {
            metaInfos.add(state.getMetaInfo().snapshot());
        }
        if (metaInfos.isEmpty()) {
            return IncrementalSnapshotResources.EMPTY;
        }

        final Map<String, StateFile> confirmed;
        synchronized (lock) {
            confirmed = confirmedSstFiles;
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
        try (lease) {
            final File localCopy =
                    localCopyAllowed ? prepareLocalCopyDirectory(checkpointId) : null;
            final File checkpointDirectory =
                    localCopy != null
                            ? new File(localCopy, LOCAL_DB_DIRECTORY)
                            : new File(
                                    instanceDirectory,
                                    "chk-"
                                            + checkpointId
                                            + "-"
                                            + localDirectoryCounter.incrementAndGet());
            final File toDeleteOnFailure = localCopy != null ? localCopy : checkpointDirectory;
            try (Checkpoint checkpoint = Checkpoint.create(db)) {
                // flushes the memtables (the write-ahead log is off) and hard-links the live files
                checkpoint.createCheckpoint(checkpointDirectory.getAbsolutePath());
            } catch (Throwable t) {
                FileUtils.deleteDirectoryQuietly(toDeleteOnFailure);
                throw new IOException(
                        "Could not take the RocksDB checkpoint for checkpoint "
                                + checkpointId
                                + " in "
                                + checkpointDirectory
                                + ": "
                                + t.getMessage(),
                        t);
            }
            return new IncrementalSnapshotResources(
                    checkpointDirectory, localCopy, metaInfos, confirmed);
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
     * Uploads the files of the local RocksDB checkpoint. An incremental checkpoint refers to the
     * confirmed SST files; a FULL checkpoint shares nothing with earlier ones, but later ones may
     * refer to its files; a native savepoint uploads every file exclusively into the savepoint's
     * own location, so that it stays valid wherever the savepoint directory is moved and whatever
     * happens to the checkpoints, and none of its files are ever referred to by a checkpoint.
     */
    private SnapshotResult<KeyedStateHandle> uploadSnapshot(
            IncrementalSnapshotResources resources,
            long checkpointId,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry registry,
            CheckpointType type)
            throws Exception {
        final long startNanos = System.nanoTime();
        final boolean savepoint = type == CheckpointType.SAVEPOINT_NATIVE;
        final boolean reuseConfirmedFiles = type == CheckpointType.INCREMENTAL;
        final File[] listed = resources.checkpointDirectory.listFiles();
        if (listed == null) {
            throw new IOException(
                    "Could not list the local checkpoint directory "
                            + resources.checkpointDirectory);
        }
        Arrays.sort(listed);

        final List<FileUpload> uploads = new ArrayList<>(listed.length);
        final List<StateFile> reused = new ArrayList<>();
        for (File file : listed) {
            final String name = file.getName();
            if (name.endsWith(SST_SUFFIX) && !savepoint) {
                StateFile confirmed =
                        reuseConfirmedFiles ? resources.confirmedSstFiles.get(name) : null;
                if (confirmed != null
                        && confirmed.getSize() == file.length()
                        && streamFactory.couldReuseStateHandle(confirmed.getHandle())) {
                    reused.add(confirmed);
                } else {
                    uploads.add(new FileUpload(file.toPath(), CheckpointedStateScope.SHARED));
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
            final Map<String, StateFile> sstFiles = new HashMap<>();
            final List<HandleAndLocalPath> sharedState = new ArrayList<>();
            final List<HandleAndLocalPath> privateState = new ArrayList<>();
            final List<IncrementalSnapshotMetaData.FileEntry> entries = new ArrayList<>();
            long uploadedBytes = 0;
            for (StateFile file : uploaded) {
                uploadedBytes += file.getSize();
                entries.add(entryOf(file));
                if (file.getName().endsWith(SST_SUFFIX) && !savepoint) {
                    sstFiles.put(file.getName(), file);
                    sharedState.add(HandleAndLocalPath.of(file.getHandle(), file.getName()));
                } else {
                    privateState.add(HandleAndLocalPath.of(file.getHandle(), file.getName()));
                }
            }
            long reusedBytes = 0;
            for (StateFile file : reused) {
                reusedBytes += file.getSize();
                StreamStateHandle physical = file.getHandle();
                sstFiles.put(file.getName(), file);
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
            metaStateHandle = writeMetaData(streamFactory, registry, metaData);
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
                            : completeLocalCopy(resources, checkpointId, metaData, sstFiles);
            if (!savepoint) {
                // a savepoint's files belong to the savepoint alone: never reused
                recordPending(checkpointId, sstFiles);
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

    private static StreamStateHandle writeMetaData(
            CheckpointStreamFactory streamFactory, CloseableRegistry registry, byte[] metaData)
            throws IOException {
        CheckpointStateOutputStream out =
                streamFactory.createCheckpointStateOutputStream(CheckpointedStateScope.EXCLUSIVE);
        try {
            registry.registerCloseable(out);
            out.write(metaData);
            if (!registry.unregisterCloseable(out)) {
                out = null;
                throw new IOException("The snapshot was cancelled while writing its meta data.");
            }
            StreamStateHandle handle = out.closeAndGetHandle();
            out = null;
            return Preconditions.checkNotNull(handle, "The meta data stream returned no handle.");
        } finally {
            if (out != null) {
                registry.unregisterCloseable(out);
                IOUtils.closeQuietly(out);
            }
        }
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
            Map<String, StateFile> sstFiles) {
        final File localCopy = resources.localCopy;
        final Path metaDataFile = new File(localCopy, LOCAL_METADATA_FILE).toPath();
        try {
            Files.write(metaDataFile, metaData, StandardOpenOption.CREATE_NEW);
            final long directorySize =
                    FileUtils.getDirectoryFilesSize(resources.checkpointDirectory.toPath());
            final List<HandleAndLocalPath> sharedState = new ArrayList<>(sstFiles.size());
            for (StateFile file : sstFiles.values()) {
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

    private void recordPending(long checkpointId, Map<String, StateFile> sstFiles) {
        synchronized (lock) {
            if (checkpointId <= lastConfirmedCheckpointId) {
                // a newer checkpoint was confirmed already; this one can never be
                return;
            }
            pendingSstFiles.merge(
                    checkpointId,
                    sstFiles,
                    (existing, added) -> {
                        Map<String, StateFile> merged = new HashMap<>(existing);
                        merged.putAll(added);
                        return merged;
                    });
            while (pendingSstFiles.size() > MAX_PENDING_CHECKPOINTS) {
                Map.Entry<Long, Map<String, StateFile>> oldest = pendingSstFiles.pollFirstEntry();
                LOG.debug(
                        "Checkpoint {} of backend {} was not confirmed in time; its files will be"
                                + " uploaded again rather than referred to.",
                        oldest.getKey(),
                        backendUID);
            }
        }
    }

    /** The uploads of {@code checkpointId} may be reused from now on. */
    public void notifyCheckpointComplete(long checkpointId) {
        synchronized (lock) {
            Map<String, StateFile> files = pendingSstFiles.get(checkpointId);
            if (files == null) {
                // not a checkpoint of this operation (a savepoint, a canonical checkpoint) or
                // already superseded: it says nothing about the files we know
                return;
            }
            if (checkpointId > lastConfirmedCheckpointId) {
                confirmedSstFiles = Collections.unmodifiableMap(files);
                lastConfirmedCheckpointId = checkpointId;
            }
            pendingSstFiles.headMap(checkpointId, true).clear();
        }
    }

    /** The uploads of {@code checkpointId} are never to be reused. */
    public void notifyCheckpointAborted(long checkpointId) {
        synchronized (lock) {
            pendingSstFiles.remove(checkpointId);
        }
    }

    /**
     * A later checkpoint completed: {@code checkpointId} and every earlier checkpoint can no longer
     * become the confirmed one.
     */
    public void notifyCheckpointSubsumed(long checkpointId) {
        synchronized (lock) {
            pendingSstFiles.headMap(checkpointId, true).clear();
        }
    }

    /** Names of the SST files later checkpoints may refer to, for tests. */
    public Map<String, StateFile> getConfirmedSstFiles() {
        synchronized (lock) {
            return confirmedSstFiles;
        }
    }

    /** Ids of checkpoints whose uploads wait for confirmation, for tests. */
    public List<Long> getPendingCheckpointIds() {
        synchronized (lock) {
            return new ArrayList<>(pendingSstFiles.keySet());
        }
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
                        null, null, Collections.emptyList(), Collections.emptyMap());

        /** Where RocksDB's files are: in the instance directory, or in the local copy. */
        @Nullable private final File checkpointDirectory;

        /** The local copy for local recovery that holds {@link #checkpointDirectory}, if any. */
        @Nullable private final File localCopy;

        private final List<StateMetaInfoSnapshot> metaInfoSnapshots;
        private final Map<String, StateFile> confirmedSstFiles;
        private final AtomicBoolean released = new AtomicBoolean();
        private volatile boolean localCopyKept;

        IncrementalSnapshotResources(
                @Nullable File checkpointDirectory,
                @Nullable File localCopy,
                List<StateMetaInfoSnapshot> metaInfoSnapshots,
                Map<String, StateFile> confirmedSstFiles) {
            this.checkpointDirectory = checkpointDirectory;
            this.localCopy = localCopy;
            this.metaInfoSnapshots = metaInfoSnapshots;
            this.confirmedSstFiles = confirmedSstFiles;
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
