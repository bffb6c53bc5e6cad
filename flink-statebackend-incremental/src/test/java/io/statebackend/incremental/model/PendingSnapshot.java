package io.statebackend.incremental.model;

import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.CheckpointStorageLocation;

import javax.annotation.Nullable;

/** A checkpoint or savepoint that was triggered and has not completed or been aborted yet. */
final class PendingSnapshot {

    private final long checkpointId;
    private final long timestamp;
    private final ModelSnapshot.Kind kind;
    private final CheckpointOptions options;
    private final CheckpointStorageLocation location;
    private final ExpectedState expected;
    private final OperatorSubtaskState[] acknowledged;
    private int acknowledgedCount;

    PendingSnapshot(
            long checkpointId,
            long timestamp,
            ModelSnapshot.Kind kind,
            CheckpointOptions options,
            CheckpointStorageLocation location,
            ExpectedState expected,
            int parallelism) {
        this.checkpointId = checkpointId;
        this.timestamp = timestamp;
        this.kind = kind;
        this.options = options;
        this.location = location;
        this.expected = expected;
        this.acknowledged = new OperatorSubtaskState[parallelism];
    }

    long checkpointId() {
        return checkpointId;
    }

    long timestamp() {
        return timestamp;
    }

    ModelSnapshot.Kind kind() {
        return kind;
    }

    boolean isSavepoint() {
        return kind == ModelSnapshot.Kind.NATIVE_SAVEPOINT
                || kind == ModelSnapshot.Kind.CANONICAL_SAVEPOINT;
    }

    CheckpointOptions options() {
        return options;
    }

    CheckpointStorageLocation location() {
        return location;
    }

    ExpectedState expected() {
        return expected;
    }

    int parallelism() {
        return acknowledged.length;
    }

    /** Records a subtask's state; returns false if the subtask had acknowledged already. */
    boolean acknowledge(int subtask, OperatorSubtaskState state) {
        if (acknowledged[subtask] != null) {
            return false;
        }
        acknowledged[subtask] = state;
        acknowledgedCount++;
        return true;
    }

    boolean isFullyAcknowledged() {
        return acknowledgedCount == acknowledged.length;
    }

    @Nullable
    OperatorSubtaskState acknowledgedState(int subtask) {
        return acknowledged[subtask];
    }

    @Override
    public String toString() {
        return checkpointId
                + "("
                + kind
                + ", "
                + acknowledgedCount
                + "/"
                + acknowledged.length
                + ")";
    }
}
