package io.statebackend.incremental.model;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.RestoreMode;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.CheckpointProperties;
import org.apache.flink.runtime.checkpoint.CheckpointRetentionPolicy;
import org.apache.flink.runtime.checkpoint.CheckpointType;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.CheckpointsCleaner;
import org.apache.flink.runtime.checkpoint.CompletedCheckpoint;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.checkpoint.SnapshotType;
import org.apache.flink.runtime.checkpoint.StandaloneCompletedCheckpointStore;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.state.CheckpointMetadataOutputStream;
import org.apache.flink.runtime.state.CheckpointStorageLocation;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CompletedCheckpointStorageLocation;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStorageAccess;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.util.InstantiationUtil;
import org.apache.flink.util.concurrent.Executors;

import javax.annotation.Nullable;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The JobManager's side of the snapshot protocol, built from Flink's own pieces so that what the
 * backend is tested against is what Flink 1.20 does: {@link FsCheckpointStorageAccess} on a local
 * directory (files are really written and really deleted), a {@link
 * StandaloneCompletedCheckpointStore} whose {@code SharedStateRegistryImpl} deletes unused shared
 * state at once, and a {@link CheckpointsCleaner}. What the coordinator itself does is written out
 * here: shared state is registered when a subtask acknowledges (also late), a completed checkpoint
 * is stored and subsumes the oldest beyond the retained number, pending checkpoints older than it
 * are aborted, and the tasks are told. Savepoints are neither registered nor stored.
 *
 * <p>The model is also the user: after a NO_CLAIM restore it deletes the snapshot the job was
 * started from once the first (FULL) checkpoint completed, it keeps a few savepoints and deletes
 * older ones, and when it cancels a job to start another one it deletes whatever of the old job it
 * does not keep.
 */
final class ModelJobManager {

    static final OperatorID OPERATOR_ID = new OperatorID(0x5EEDL, 0x0FL);

    private static final int WRITE_BUFFER_SIZE = 4096;

    /** How the JobManager reaches the tasks. */
    interface TaskGateway {
        void checkpointComplete(long checkpointId);

        void checkpointAborted(long checkpointId);

        void checkpointSubsumed(long checkpointId);
    }

    /** Where an uploaded file came from, to explain a reference the registry rejected. */
    private static final class Upload {
        final int jobNumber;
        final long checkpointId;
        final int subtask;
        @Nullable final Path path;

        Upload(int jobNumber, long checkpointId, int subtask, @Nullable Path path) {
            this.jobNumber = jobNumber;
            this.checkpointId = checkpointId;
            this.subtask = subtask;
            this.path = path;
        }
    }

    private final Path checkpointsRoot;
    private final Path savepointsRoot;
    private final int maxRetainedCheckpoints;
    private final int maxKeptSavepoints;
    private final int fileSizeThreshold;
    private final int maxParallelism;
    private final TaskGateway tasks;
    private final RunStatistics statistics;
    private final StepLog log;
    private final ClassLoader classLoader = ModelJobManager.class.getClassLoader();

    private final Map<String, Upload> uploads = new HashMap<>();
    private final TreeMap<Long, PendingSnapshot> pending = new TreeMap<>();
    private final Map<Long, ModelSnapshot> retained = new HashMap<>();
    private final List<ModelSnapshot> keptSavepoints = new ArrayList<>();

    /** The snapshot the current job was started from in NO_CLAIM mode, until it is deleted. */
    @Nullable private ModelSnapshot noClaimSource;

    /** The entry of {@link #noClaimSource} in the current job's checkpoint store. */
    @Nullable private ModelSnapshot unclaimedEntry;

    private int jobNumber;
    private JobID jobId;
    private Path jobDirectory;
    private FsCheckpointStorageAccess jobManagerStorage;
    private FsCheckpointStorageAccess taskStorage;
    private StandaloneCompletedCheckpointStore store;
    private CheckpointsCleaner cleaner;
    private long nextCheckpointId = 1;
    private boolean forceFullSnapshot;

    ModelJobManager(
            Path checkpointsRoot,
            Path savepointsRoot,
            int maxRetainedCheckpoints,
            int maxKeptSavepoints,
            int fileSizeThreshold,
            int maxParallelism,
            TaskGateway tasks,
            RunStatistics statistics,
            StepLog log)
            throws IOException {
        this.checkpointsRoot = checkpointsRoot;
        this.savepointsRoot = savepointsRoot;
        this.maxRetainedCheckpoints = maxRetainedCheckpoints;
        this.maxKeptSavepoints = maxKeptSavepoints;
        this.fileSizeThreshold = fileSizeThreshold;
        this.maxParallelism = maxParallelism;
        this.tasks = tasks;
        this.statistics = statistics;
        this.log = log;
        Files.createDirectories(savepointsRoot);
        startJob(RestoreMode.CLAIM);
    }

    private void startJob(RestoreMode restoreMode) throws IOException {
        jobNumber++;
        jobId = new JobID();
        jobDirectory = checkpointsRoot.resolve(jobId.toString());
        jobManagerStorage = storageAccess();
        jobManagerStorage.initializeBaseLocationsForCheckpoint();
        taskStorage = storageAccess();
        store =
                new StandaloneCompletedCheckpointStore(
                        maxRetainedCheckpoints,
                        SharedStateRegistry.DEFAULT_FACTORY,
                        Executors.directExecutor(),
                        restoreMode);
        cleaner = new CheckpointsCleaner(false);
        retained.clear();
        unclaimedEntry = null;
        forceFullSnapshot = false;
    }

    private FsCheckpointStorageAccess storageAccess() throws IOException {
        return new FsCheckpointStorageAccess(
                new org.apache.flink.core.fs.Path(checkpointsRoot.toUri()),
                new org.apache.flink.core.fs.Path(savepointsRoot.toUri()),
                jobId,
                fileSizeThreshold,
                WRITE_BUFFER_SIZE);
    }

    int jobNumber() {
        return jobNumber;
    }

    // ------------------------------------------------------------------------
    //  triggering and acknowledging
    // ------------------------------------------------------------------------

    /**
     * Starts a checkpoint or savepoint: a checkpoint is FULL if asked for or while the job has not
     * completed one since a NO_CLAIM restore, as Flink's coordinator decides.
     */
    PendingSnapshot trigger(ModelSnapshot.Kind requested, ExpectedState expected, int parallelism)
            throws IOException {
        final long checkpointId = nextCheckpointId++;
        final long timestamp = checkpointId * 1000L;
        final ModelSnapshot.Kind kind;
        final SnapshotType type;
        final CheckpointStorageLocation location;
        switch (requested) {
            case NATIVE_SAVEPOINT:
            case CANONICAL_SAVEPOINT:
                kind = requested;
                type =
                        SavepointType.savepoint(
                                requested == ModelSnapshot.Kind.NATIVE_SAVEPOINT
                                        ? SavepointFormatType.NATIVE
                                        : SavepointFormatType.CANONICAL);
                location =
                        jobManagerStorage.initializeLocationForSavepoint(
                                checkpointId, savepointsRoot.toUri().toString());
                break;
            case CHECKPOINT:
            case FULL_CHECKPOINT:
                boolean full = forceFullSnapshot || requested == ModelSnapshot.Kind.FULL_CHECKPOINT;
                kind = full ? ModelSnapshot.Kind.FULL_CHECKPOINT : ModelSnapshot.Kind.CHECKPOINT;
                type = full ? CheckpointType.FULL_CHECKPOINT : CheckpointType.CHECKPOINT;
                location = jobManagerStorage.initializeLocationForCheckpoint(checkpointId);
                break;
            default:
                throw new IllegalArgumentException("Cannot trigger " + requested);
        }
        PendingSnapshot snapshot =
                new PendingSnapshot(
                        checkpointId,
                        timestamp,
                        kind,
                        new CheckpointOptions(type, location.getLocationReference()),
                        location,
                        expected,
                        parallelism);
        pending.put(checkpointId, snapshot);
        statistics.increment("triggered." + kind);
        return snapshot;
    }

    /** The stream factory a task resolves from the checkpoint's options, as a TaskManager does. */
    CheckpointStreamFactory taskStreamFactory(PendingSnapshot snapshot) throws IOException {
        return taskStorage.resolveCheckpointStorageLocation(
                snapshot.checkpointId(), snapshot.options().getTargetLocation());
    }

    @Nullable
    PendingSnapshot pending(long checkpointId) {
        return pending.get(checkpointId);
    }

    List<PendingSnapshot> pendingSnapshots() {
        return new ArrayList<>(pending.values());
    }

    /**
     * A subtask reports its state. As in {@code CheckpointCoordinator#receiveAcknowledgeMessage},
     * shared state is registered whether or not the checkpoint is still pending (savepoints'
     * excepted), and the state of a checkpoint that is no longer pending is discarded. A pending
     * checkpoint that the registry rejects fails the run: the backend referred to state the
     * JobManager does not have. Returns the snapshot this acknowledgement completed, if any.
     */
    @Nullable
    ModelSnapshot acknowledge(long checkpointId, int subtask, OperatorSubtaskState reported)
            throws Exception {
        // the acknowledgement is an RPC: the JobManager gets its own copy of the handles
        final OperatorSubtaskState state = InstantiationUtil.clone(reported, classLoader);
        final PendingSnapshot snapshot = pending.get(checkpointId);
        if (snapshot == null || !snapshot.isSavepoint()) {
            List<String> references = describeReferences(state);
            recordUploads(state, checkpointId, subtask);
            try {
                state.registerSharedStates(store.getSharedStateRegistry(), checkpointId);
            } catch (RuntimeException e) {
                if (snapshot != null) {
                    throw new AssertionError(
                            "The JobManager rejected checkpoint "
                                    + checkpointId
                                    + " of job"
                                    + jobNumber
                                    + " from subtask "
                                    + subtask
                                    + ": "
                                    + e.getMessage()
                                    + "\nIts references to earlier uploads:\n  "
                                    + String.join("\n  ", references)
                                    + "\nRetained checkpoints: "
                                    + retainedIds(),
                            e);
                }
                // Flink logs this and goes on; the model also discards what Flink would leave
                // behind, so that the file check at the end only blames the backend
                statistics.increment("acks.lateRejectedByRegistry");
                log.detail(
                        "late acknowledgement of "
                                + checkpointId
                                + " rejected by the registry: "
                                + e.getMessage());
                discardQuietly(state);
                return null;
            }
        }
        if (snapshot == null) {
            statistics.increment("acks.late");
            log.detail("late acknowledgement of " + checkpointId + " discarded");
            discardQuietly(state);
            return null;
        }
        if (!snapshot.acknowledge(subtask, state)) {
            throw new AssertionError(
                    "Subtask " + subtask + " acknowledged " + checkpointId + " twice");
        }
        if (!snapshot.isFullyAcknowledged()) {
            return null;
        }
        return complete(snapshot);
    }

    private ModelSnapshot complete(PendingSnapshot snapshot) throws Exception {
        final long checkpointId = snapshot.checkpointId();
        pending.remove(checkpointId);
        store.getSharedStateRegistry().checkpointCompleted(checkpointId);

        final OperatorState operatorState =
                new OperatorState(OPERATOR_ID, snapshot.parallelism(), maxParallelism);
        for (int i = 0; i < snapshot.parallelism(); i++) {
            operatorState.putState(i, snapshot.acknowledgedState(i));
        }
        final Map<OperatorID, OperatorState> operatorStates = new HashMap<>();
        operatorStates.put(OPERATOR_ID, operatorState);
        final CheckpointProperties properties =
                snapshot.kind() == ModelSnapshot.Kind.NATIVE_SAVEPOINT
                        ? CheckpointProperties.forSavepoint(false, SavepointFormatType.NATIVE)
                        : snapshot.kind() == ModelSnapshot.Kind.CANONICAL_SAVEPOINT
                                ? CheckpointProperties.forSavepoint(
                                        false, SavepointFormatType.CANONICAL)
                                : CheckpointProperties.forCheckpoint(
                                        CheckpointRetentionPolicy.RETAIN_ON_CANCELLATION);
        final CompletedCheckpointStorageLocation finalLocation =
                writeMetadata(snapshot.location(), checkpointId, operatorStates, properties);
        final CompletedCheckpoint completed =
                new CompletedCheckpoint(
                        jobId,
                        checkpointId,
                        snapshot.timestamp(),
                        snapshot.timestamp() + 1,
                        operatorStates,
                        Collections.emptyList(),
                        properties,
                        finalLocation,
                        null);
        final ModelSnapshot model =
                new ModelSnapshot(
                        jobNumber,
                        checkpointId,
                        snapshot.kind(),
                        completed,
                        snapshot.expected(),
                        "");
        log.detail("JM completes " + model.label() + ", " + model.files().size() + " files");

        if (snapshot.isSavepoint()) {
            // savepoints are not stored, subsume nothing and are not confirmed to the tasks
            keptSavepoints.add(model);
            statistics.increment("completed." + snapshot.kind());
            deleteOldSavepoints();
            return model;
        }

        final CompletedCheckpoint subsumed =
                store.addCheckpointAndSubsumeOldestOne(completed, cleaner, () -> {});
        forceFullSnapshot = false;
        retained.put(checkpointId, model);
        retained.keySet().retainAll(storedIds());
        statistics.increment("completed." + snapshot.kind());

        // dropSubsumedCheckpoints: pending checkpoints before this one can never complete
        for (PendingSnapshot older : new ArrayList<>(pending.headMap(checkpointId).values())) {
            if (!older.isSavepoint()) {
                statistics.increment("aborted.subsumedWhilePending");
                abort(older.checkpointId(), "subsumed by " + checkpointId, true);
            }
        }
        tasks.checkpointComplete(checkpointId);
        if (subsumed != null && subsumed.shouldBeDiscardedOnSubsume()) {
            tasks.checkpointSubsumed(subsumed.getCheckpointID());
        }

        if (noClaimSource != null) {
            if (snapshot.kind() != ModelSnapshot.Kind.FULL_CHECKPOINT) {
                throw new AssertionError(
                        "The first checkpoint after a NO_CLAIM restore was not FULL: " + model);
            }
            deleteNoClaimSource();
        }
        return model;
    }

    private CompletedCheckpointStorageLocation writeMetadata(
            CheckpointStorageLocation location,
            long checkpointId,
            Map<OperatorID, OperatorState> operatorStates,
            CheckpointProperties properties)
            throws IOException {
        CheckpointMetadataOutputStream out = location.createMetadataOutputStream();
        try {
            Checkpoints.storeCheckpointMetadata(
                    new CheckpointMetadata(
                            checkpointId,
                            operatorStates.values(),
                            Collections.emptyList(),
                            properties),
                    new DataOutputStream(out));
            return out.closeAndFinalizeCheckpoint();
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * Aborts a pending checkpoint as {@code PendingCheckpoint#abort} does: the acknowledged states
     * are discarded (their shared state stays with the registry), the checkpoint's directory is
     * deleted, and the tasks are told unless they are gone.
     */
    void abort(long checkpointId, String reason, boolean notifyTasks) {
        PendingSnapshot snapshot = pending.remove(checkpointId);
        if (snapshot == null) {
            throw new IllegalStateException("No pending checkpoint " + checkpointId);
        }
        for (int i = 0; i < snapshot.parallelism(); i++) {
            OperatorSubtaskState state = snapshot.acknowledgedState(i);
            if (state != null) {
                discardQuietly(state);
            }
        }
        try {
            snapshot.location().disposeOnFailure();
        } catch (IOException e) {
            log.detail("could not delete the location of " + checkpointId + ": " + e);
        }
        statistics.increment("aborted." + snapshot.kind());
        log.detail("JM aborts " + snapshot + ": " + reason);
        if (notifyTasks) {
            tasks.checkpointAborted(checkpointId);
        }
    }

    // ------------------------------------------------------------------------
    //  restoring
    // ------------------------------------------------------------------------

    /**
     * A failover of all tasks: pending checkpoints are aborted and the latest completed checkpoint
     * is what the new tasks restore (null: they start empty).
     */
    @Nullable
    ModelSnapshot failover() throws Exception {
        for (Long checkpointId : new ArrayList<>(pending.keySet())) {
            abort(checkpointId, "failover", false);
        }
        CompletedCheckpoint latest = store.getLatestCheckpoint();
        if (latest == null) {
            return null;
        }
        forceFullSnapshot = latest.getProperties().isUnclaimed();
        ModelSnapshot snapshot = retained.get(latest.getCheckpointID());
        if (snapshot == null || snapshot.isDeleted()) {
            throw new AssertionError("The latest checkpoint is not restorable: " + latest);
        }
        return snapshot;
    }

    /** Snapshots a NO_CLAIM restore may start from: retained checkpoints and kept savepoints. */
    List<ModelSnapshot> noClaimCandidates() {
        return restorableSnapshots();
    }

    /**
     * Cancels the job (retained checkpoints stay, as with RETAIN_ON_CANCELLATION), deletes what of
     * it the user does not keep, and starts a new job from {@code source} in NO_CLAIM mode, as
     * {@code CheckpointCoordinator#restoreSavepoint} does. Returns the source's entry in the new
     * job's store, which the tasks restore.
     */
    ModelSnapshot restartFromNoClaim(ModelSnapshot source) throws Exception {
        for (Long checkpointId : new ArrayList<>(pending.keySet())) {
            abort(checkpointId, "job cancelled", false);
        }
        store.shutdown(JobStatus.CANCELED, cleaner);
        cleaner.closeAsync();

        final ModelSnapshot previousSource = noClaimSource;
        final Path previousJobDirectory = jobDirectory;
        final List<ModelSnapshot> previousRetained = new ArrayList<>(retained.values());
        noClaimSource = source;
        final Set<Path> keep = filesKeptByUser();
        for (Path file : SnapshotFiles.filesBelow(previousJobDirectory)) {
            if (!keep.contains(file)) {
                Files.delete(file);
            }
        }
        for (ModelSnapshot old : previousRetained) {
            if (!keep.containsAll(old.files())) {
                old.markDeleted();
            }
        }
        if (previousSource != null
                && !previousSource.isDeleted()
                && !isKeptSavepoint(previousSource)
                && !previousSource.externalPointer().equals(source.externalPointer())) {
            deleteFiles(previousSource.files(), keep);
            previousSource.markDeleted();
        }

        startJob(RestoreMode.NO_CLAIM);
        final CompletedCheckpointStorageLocation location =
                jobManagerStorage.resolveCheckpoint(source.externalPointer());
        final CheckpointMetadata metadata;
        try (InputStream in = location.getMetadataHandle().openInputStream()) {
            metadata =
                    Checkpoints.loadCheckpointMetadata(
                            new DataInputStream(in), classLoader, location.getExternalPointer());
        }
        final Map<OperatorID, OperatorState> operatorStates = new HashMap<>();
        for (OperatorState operatorState : metadata.getOperatorStates()) {
            operatorStates.put(operatorState.getOperatorID(), operatorState);
        }
        final CompletedCheckpoint unclaimed =
                new CompletedCheckpoint(
                        jobId,
                        metadata.getCheckpointId(),
                        0L,
                        0L,
                        operatorStates,
                        metadata.getMasterStates(),
                        CheckpointProperties.forUnclaimedSnapshot(),
                        location,
                        null,
                        metadata.getCheckpointProperties());
        unclaimed.registerSharedStatesAfterRestored(
                store.getSharedStateRegistry(), RestoreMode.NO_CLAIM);
        store.addCheckpointAndSubsumeOldestOne(unclaimed, cleaner, () -> {});
        nextCheckpointId = metadata.getCheckpointId() + 1;
        forceFullSnapshot = true;
        unclaimedEntry =
                new ModelSnapshot(
                        jobNumber,
                        metadata.getCheckpointId(),
                        ModelSnapshot.Kind.UNCLAIMED_RESTORE,
                        unclaimed,
                        source.expected(),
                        " of " + source.label());
        retained.put(metadata.getCheckpointId(), unclaimedEntry);
        statistics.increment("restores.NO_CLAIM");
        return unclaimedEntry;
    }

    /**
     * The state each of {@code parallelism} new subtasks restores, assigned as Flink does: every
     * subtask gets the keyed state handles that overlap its key-group range. Each subtask gets its
     * own copy, as if it came over the wire.
     */
    List<OperatorSubtaskState> assignState(ModelSnapshot snapshot, int parallelism)
            throws Exception {
        OperatorState operatorState = snapshot.checkpoint().getOperatorStates().get(OPERATOR_ID);
        if (operatorState == null) {
            throw new AssertionError(snapshot + " holds no state of the operator");
        }
        OperatorSubtaskState[] previous = new OperatorSubtaskState[operatorState.getParallelism()];
        for (int i = 0; i < previous.length; i++) {
            OperatorSubtaskState state = operatorState.getState(i);
            previous[i] = state != null ? state : OperatorSubtaskState.builder().build();
        }
        OperatorSubtaskState packed = AbstractStreamOperatorTestHarness.repackageState(previous);
        List<OperatorSubtaskState> assigned = new ArrayList<>(parallelism);
        for (int i = 0; i < parallelism; i++) {
            OperatorSubtaskState state =
                    AbstractStreamOperatorTestHarness.repartitionOperatorState(
                            packed, maxParallelism, previous.length, parallelism, i);
            assigned.add(InstantiationUtil.clone(state, classLoader));
        }
        return assigned;
    }

    int parallelismOf(ModelSnapshot snapshot) {
        return snapshot.checkpoint().getOperatorStates().get(OPERATOR_ID).getParallelism();
    }

    /** Retained checkpoints whose files exist and kept savepoints, oldest first. */
    List<ModelSnapshot> restorableSnapshots() {
        List<ModelSnapshot> result = new ArrayList<>();
        for (long checkpointId : new TreeSet<>(retained.keySet())) {
            ModelSnapshot snapshot = retained.get(checkpointId);
            if (!snapshot.isDeleted()) {
                result.add(snapshot);
            }
        }
        result.addAll(keptSavepoints);
        return result;
    }

    // ------------------------------------------------------------------------
    //  the user's part: deleting snapshots
    // ------------------------------------------------------------------------

    private void deleteNoClaimSource() throws IOException {
        ModelSnapshot source = noClaimSource;
        noClaimSource = null;
        if (unclaimedEntry != null) {
            unclaimedEntry.markDeleted();
        }
        if (isKeptSavepoint(source)) {
            log.detail("NO_CLAIM source " + source.label() + " is kept as a savepoint");
            return;
        }
        int deleted = deleteFiles(source.files(), filesKeptByUser());
        source.markDeleted();
        statistics.increment("noClaim.sourcesDeleted");
        log.detail(
                "user deletes the NO_CLAIM source " + source.label() + " (" + deleted + " files)");
    }

    private void deleteOldSavepoints() throws IOException {
        while (keptSavepoints.size() > maxKeptSavepoints) {
            // the newest is what the user just took; the NO_CLAIM source is still needed
            ModelSnapshot oldest = null;
            for (ModelSnapshot savepoint : keptSavepoints.subList(0, keptSavepoints.size() - 1)) {
                if (noClaimSource == null
                        || !savepoint.externalPointer().equals(noClaimSource.externalPointer())) {
                    oldest = savepoint;
                    break;
                }
            }
            if (oldest == null) {
                return;
            }
            keptSavepoints.remove(oldest);
            int deleted = deleteFiles(oldest.files(), filesKeptByUser());
            oldest.markDeleted();
            deleteEmptyDirectory(SnapshotFiles.toPath(metadataFileOf(oldest)).getParent());
            statistics.increment("savepoints.deleted");
            log.detail("user deletes savepoint " + oldest.label() + " (" + deleted + " files)");
        }
    }

    private static FileStateHandle metadataFileOf(ModelSnapshot snapshot) {
        return (FileStateHandle) snapshot.checkpoint().getMetadataHandle();
    }

    private boolean isKeptSavepoint(ModelSnapshot snapshot) {
        for (ModelSnapshot savepoint : keptSavepoints) {
            if (savepoint.externalPointer().equals(snapshot.externalPointer())) {
                return true;
            }
        }
        return false;
    }

    /** Files of the snapshots the user keeps outside of any job's checkpoint store. */
    private Set<Path> filesKeptByUser() {
        Set<Path> keep = new HashSet<>();
        for (ModelSnapshot savepoint : keptSavepoints) {
            keep.addAll(savepoint.files());
        }
        if (noClaimSource != null) {
            keep.addAll(noClaimSource.files());
        }
        return keep;
    }

    private static int deleteFiles(Set<Path> files, Set<Path> keep) throws IOException {
        int deleted = 0;
        for (Path file : files) {
            if (!keep.contains(file) && Files.deleteIfExists(file)) {
                deleted++;
            }
        }
        return deleted;
    }

    private static void deleteEmptyDirectory(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            if (entries.iterator().hasNext()) {
                return;
            }
        }
        Files.delete(directory);
    }

    // ------------------------------------------------------------------------
    //  checks and diagnostics
    // ------------------------------------------------------------------------

    /**
     * Compares the files in checkpoint and savepoint storage with those the retained checkpoints,
     * the kept savepoints and a NO_CLAIM source not yet deleted refer to.
     */
    FileReport checkFiles() throws IOException {
        Set<Path> referenced = filesKeptByUser();
        for (ModelSnapshot snapshot : retained.values()) {
            if (!snapshot.isDeleted()) {
                referenced.addAll(snapshot.files());
            }
        }
        List<Path> present = new ArrayList<>(SnapshotFiles.filesBelow(checkpointsRoot));
        present.addAll(SnapshotFiles.filesBelow(savepointsRoot));
        List<Path> unreferenced = new ArrayList<>();
        for (Path file : present) {
            if (!referenced.contains(file)) {
                unreferenced.add(file);
            }
        }
        List<Path> missing = new ArrayList<>();
        Set<Path> presentSet = new HashSet<>(present);
        for (Path file : new TreeSet<>(referenced)) {
            if (!presentSet.contains(file)) {
                missing.add(file);
            }
        }
        return new FileReport(present.size(), unreferenced, missing, this::originOf);
    }

    private void recordUploads(OperatorSubtaskState state, long checkpointId, int subtask) {
        for (KeyedStateHandle handle : state.getManagedKeyedState()) {
            if (handle instanceof IncrementalRemoteKeyedStateHandle) {
                for (HandleAndLocalPath file :
                        ((IncrementalRemoteKeyedStateHandle) handle).getSharedState()) {
                    StreamStateHandle upload = file.getHandle();
                    if (!(upload instanceof PlaceholderStreamStateHandle)) {
                        uploads.putIfAbsent(
                                upload.getStreamStateHandleID().getKeyString(),
                                new Upload(
                                        jobNumber,
                                        checkpointId,
                                        subtask,
                                        upload instanceof FileStateHandle
                                                ? SnapshotFiles.toPath((FileStateHandle) upload)
                                                : null));
                    }
                }
            }
        }
    }

    /** For each placeholder: which upload it names, and whether that file still exists. */
    private List<String> describeReferences(OperatorSubtaskState state) {
        List<String> references = new ArrayList<>();
        for (KeyedStateHandle handle : state.getManagedKeyedState()) {
            if (!(handle instanceof IncrementalRemoteKeyedStateHandle)) {
                continue;
            }
            for (HandleAndLocalPath file :
                    ((IncrementalRemoteKeyedStateHandle) handle).getSharedState()) {
                if (!(file.getHandle() instanceof PlaceholderStreamStateHandle)) {
                    continue;
                }
                Upload upload =
                        uploads.get(file.getHandle().getStreamStateHandleID().getKeyString());
                String origin;
                if (upload == null) {
                    origin = "an upload the JobManager never saw";
                } else {
                    origin =
                            "uploaded by job"
                                    + upload.jobNumber
                                    + " checkpoint "
                                    + upload.checkpointId
                                    + " subtask "
                                    + upload.subtask
                                    + (upload.jobNumber != jobNumber
                                            ? " (an earlier job: the snapshot this job was"
                                                    + " restored from in NO_CLAIM mode)"
                                            : retained.containsKey(upload.checkpointId)
                                                    ? " (retained)"
                                                    : " (no longer retained)")
                                    + (upload.path == null
                                            ? ""
                                            : ", file exists: " + Files.exists(upload.path));
                }
                references.add(file.getLocalPath() + " -> " + origin);
            }
        }
        return references;
    }

    private String originOf(Path file) {
        for (Upload upload : uploads.values()) {
            if (file.equals(upload.path)) {
                return "shared upload of job"
                        + upload.jobNumber
                        + " checkpoint "
                        + upload.checkpointId
                        + " subtask "
                        + upload.subtask;
            }
        }
        return "not a shared upload seen by the JobManager";
    }

    private Set<Long> storedIds() {
        Set<Long> ids = new HashSet<>();
        for (CompletedCheckpoint checkpoint : store.getAllCheckpoints()) {
            ids.add(checkpoint.getCheckpointID());
        }
        return ids;
    }

    private List<Long> retainedIds() {
        return new ArrayList<>(new TreeSet<>(retained.keySet()));
    }

    private void discardQuietly(OperatorSubtaskState state) {
        try {
            state.discardState();
        } catch (Exception e) {
            log.detail("could not discard a subtask state: " + e);
        }
    }

    String describe() {
        return "job"
                + jobNumber
                + " retained="
                + retainedIds()
                + " pending="
                + pending.values()
                + " savepoints="
                + keptSavepoints.size()
                + (forceFullSnapshot ? " forceFull" : "")
                + (noClaimSource != null ? " noClaimSource=" + noClaimSource.label() : "");
    }
}
