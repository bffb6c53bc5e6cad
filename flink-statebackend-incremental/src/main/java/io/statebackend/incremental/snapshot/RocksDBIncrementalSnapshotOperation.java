package io.statebackend.incremental.snapshot;

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
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SnapshotResources;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategy;
import org.apache.flink.runtime.state.StreamStateHandle;
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

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
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
 * until {@link #notifyCheckpointComplete} names it, and are dropped when it is aborted or subsumed.
 * A lost notification only costs a re-upload.
 */
public final class RocksDBIncrementalSnapshotOperation<K>
        implements SnapshotStrategy<
                KeyedStateHandle,
                RocksDBIncrementalSnapshotOperation.IncrementalSnapshotResources> {

    private static final Logger LOG =
            LoggerFactory.getLogger(RocksDBIncrementalSnapshotOperation.class);

    private static final String SST_SUFFIX = ".sst";

    private final RocksDB db;
    private final ResourceGuard dbResourceGuard;
    private final Map<String, RegisteredRocksDBState> registeredStates;
    private final TypeSerializer<K> keySerializer;
    private final KeyGroupRange keyGroupRange;
    private final UUID backendUID;
    private final File instanceDirectory;
    private final RocksDBStateUploader uploader;

    /** Makes local checkpoint directories unique when a checkpoint id is snapshotted twice. */
    private final AtomicLong localDirectoryCounter = new AtomicLong();

    private final Object lock = new Object();

    /** SST files of the latest confirmed checkpoint, by file name; immutable, replaced whole. */
    private Map<String, StateFile> confirmedSstFiles;

    private long lastConfirmedCheckpointId;

    /** SST files of checkpoints not yet confirmed, by checkpoint id. */
    private final TreeMap<Long, Map<String, StateFile>> pendingSstFiles = new TreeMap<>();

    /**
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
        this.lastConfirmedCheckpointId = confirmedCheckpointId;
        this.confirmedSstFiles = Collections.unmodifiableMap(new HashMap<>(confirmedSstFiles));
    }

    public UUID getBackendUID() {
        return backendUID;
    }

    // ------------------------------------------------------------------------
    //  synchronous part
    // ------------------------------------------------------------------------

    @Override
    public IncrementalSnapshotResources syncPrepareResources(long checkpointId) throws Exception {
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

        final ResourceGuard.Lease lease = dbResourceGuard.acquireResource();
        final File localDirectory =
                new File(
                        instanceDirectory,
                        "chk-" + checkpointId + "-" + localDirectoryCounter.incrementAndGet());
        try (Checkpoint checkpoint = Checkpoint.create(db)) {
            // flushes the memtables (the write-ahead log is off) and hard-links the live files
            checkpoint.createCheckpoint(localDirectory.getAbsolutePath());
        } catch (Throwable t) {
            FileUtils.deleteDirectoryQuietly(localDirectory);
            IOUtils.closeQuietly(lease);
            throw new IOException(
                    "Could not take the RocksDB checkpoint for checkpoint "
                            + checkpointId
                            + " in "
                            + localDirectory
                            + ": "
                            + t.getMessage(),
                    t);
        }
        return new IncrementalSnapshotResources(localDirectory, lease, metaInfos, confirmed);
    }

    // ------------------------------------------------------------------------
    //  asynchronous part
    // ------------------------------------------------------------------------

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
        final CheckpointType type = CheckpointType.decide(checkpointOptions, true);
        Preconditions.checkArgument(
                type != CheckpointType.SAVEPOINT_CANONICAL,
                "Canonical savepoints are not written from RocksDB's files.");
        return registry -> uploadSnapshot(resources, checkpointId, streamFactory, registry, type);
    }

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
        final boolean savepoint = type == CheckpointType.SAVEPOINT_NATIVE;
        final boolean reuseConfirmedFiles = type == CheckpointType.INCREMENTAL;
        final File[] listed = resources.localDirectory.listFiles();
        if (listed == null) {
            throw new IOException(
                    "Could not list the local checkpoint directory " + resources.localDirectory);
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
            for (StateFile file : reused) {
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

            metaStateHandle =
                    writeMetaData(streamFactory, registry, resources.metaInfoSnapshots, entries);
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

            if (!savepoint) {
                // a savepoint's files belong to the savepoint alone: never reused
                recordPending(checkpointId, sstFiles);
            }
            LOG.debug(
                    "{} {} of backend {}: uploaded {} files ({} bytes), reused {} SST files.",
                    savepoint ? "Native savepoint" : "Checkpoint",
                    checkpointId,
                    backendUID,
                    uploaded.size(),
                    uploadedBytes,
                    reused.size());
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

    private StreamStateHandle writeMetaData(
            CheckpointStreamFactory streamFactory,
            CloseableRegistry registry,
            List<StateMetaInfoSnapshot> metaInfos,
            List<IncrementalSnapshotMetaData.FileEntry> files)
            throws IOException {
        CheckpointStateOutputStream out =
                streamFactory.createCheckpointStateOutputStream(CheckpointedStateScope.EXCLUSIVE);
        try {
            registry.registerCloseable(out);
            IncrementalSnapshotMetaData.write(
                    new DataOutputViewStreamWrapper(out), keySerializer, metaInfos, files);
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
     * What the synchronous part hands to the asynchronous one: the local RocksDB checkpoint, a
     * lease that keeps the backend from deleting it, and the meta data captured with it.
     */
    public static final class IncrementalSnapshotResources implements SnapshotResources {

        static final IncrementalSnapshotResources EMPTY =
                new IncrementalSnapshotResources(
                        null, null, Collections.emptyList(), Collections.emptyMap());

        @Nullable private final File localDirectory;
        @Nullable private final ResourceGuard.Lease lease;
        private final List<StateMetaInfoSnapshot> metaInfoSnapshots;
        private final Map<String, StateFile> confirmedSstFiles;
        private final AtomicBoolean released = new AtomicBoolean();

        IncrementalSnapshotResources(
                @Nullable File localDirectory,
                @Nullable ResourceGuard.Lease lease,
                List<StateMetaInfoSnapshot> metaInfoSnapshots,
                Map<String, StateFile> confirmedSstFiles) {
            this.localDirectory = localDirectory;
            this.lease = lease;
            this.metaInfoSnapshots = metaInfoSnapshots;
            this.confirmedSstFiles = confirmedSstFiles;
        }

        boolean isEmpty() {
            return localDirectory == null;
        }

        @Override
        public void release() {
            if (localDirectory == null || !released.compareAndSet(false, true)) {
                return;
            }
            try {
                FileUtils.deleteDirectory(localDirectory);
            } catch (IOException e) {
                LOG.warn("Could not delete the local checkpoint directory {}.", localDirectory, e);
            } finally {
                IOUtils.closeQuietly(lease);
            }
        }
    }
}
