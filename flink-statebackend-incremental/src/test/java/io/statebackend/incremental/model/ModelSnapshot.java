package io.statebackend.incremental.model;

import org.apache.flink.runtime.checkpoint.CompletedCheckpoint;

import java.nio.file.Path;
import java.util.Set;

/**
 * A completed checkpoint or savepoint as the model holds it: what Flink stores for it, the state it
 * must restore to, and whether its files were deleted (then nothing may need them any more).
 */
final class ModelSnapshot {

    /** How the snapshot was taken, or that a job was started from it in NO_CLAIM mode. */
    enum Kind {
        CHECKPOINT,
        FULL_CHECKPOINT,
        NATIVE_SAVEPOINT,
        CANONICAL_SAVEPOINT,
        UNCLAIMED_RESTORE
    }

    private final String label;
    private final int jobNumber;
    private final long checkpointId;
    private final Kind kind;
    private final CompletedCheckpoint checkpoint;
    private final ExpectedState expected;
    private final Set<Path> files;
    private boolean deleted;

    ModelSnapshot(
            int jobNumber,
            long checkpointId,
            Kind kind,
            CompletedCheckpoint checkpoint,
            ExpectedState expected,
            String origin) {
        this.jobNumber = jobNumber;
        this.checkpointId = checkpointId;
        this.kind = kind;
        this.checkpoint = checkpoint;
        this.expected = expected;
        this.files = SnapshotFiles.of(checkpoint);
        this.label = "job" + jobNumber + "/" + checkpointId + "(" + kind + ")" + origin;
    }

    String label() {
        return label;
    }

    int jobNumber() {
        return jobNumber;
    }

    long checkpointId() {
        return checkpointId;
    }

    Kind kind() {
        return kind;
    }

    boolean isSavepoint() {
        return kind == Kind.NATIVE_SAVEPOINT || kind == Kind.CANONICAL_SAVEPOINT;
    }

    CompletedCheckpoint checkpoint() {
        return checkpoint;
    }

    ExpectedState expected() {
        return expected;
    }

    String externalPointer() {
        return checkpoint.getExternalPointer();
    }

    /** The files as listed when the snapshot was completed or loaded. */
    Set<Path> files() {
        return files;
    }

    boolean isDeleted() {
        return deleted;
    }

    void markDeleted() {
        deleted = true;
    }

    @Override
    public String toString() {
        return label;
    }
}
