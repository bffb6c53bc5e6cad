package io.statebackend.incremental.model;

/** What one step of a run does. */
enum StepKind {
    /** A batch of records on random keys. */
    PROCESS(25),
    /** The watermark advances; timers fire and are compared with the model. */
    WATERMARK(4),
    /** Synchronous part of a checkpoint on every subtask. */
    TRIGGER_CHECKPOINT(14),
    /** The same, asking for a FULL checkpoint. */
    TRIGGER_FULL_CHECKPOINT(1),
    /** A native or canonical savepoint. */
    TRIGGER_SAVEPOINT(2),
    /** One subtask runs the asynchronous part of one snapshot and acknowledges it. */
    RUN_ASYNC_PART(14),
    /** Every subtask that has not yet done so runs the asynchronous part of one snapshot. */
    FINISH_SNAPSHOT(6),
    /** One subtask fails the asynchronous part of a pending snapshot; the JobManager aborts it. */
    DECLINE(1),
    /** The JobManager aborts a pending snapshot (expired). */
    ABORT(1),
    /** One queued notification arrives. */
    DELIVER(16),
    /** All queued notifications arrive, in random order. */
    DELIVER_ALL(3),
    /** All subtasks fail and restore the latest completed checkpoint, maybe rescaled. */
    FAILOVER(1),
    /** The job is cancelled and a new one starts from a retained snapshot in NO_CLAIM mode. */
    RESTORE_NO_CLAIM(1),
    /** A retained checkpoint or kept savepoint is restored into fresh subtasks and compared. */
    CHECK_RESTORE(0.5),
    /** The live subtasks' state is compared with the model. */
    CHECK_LIVE(0.5);

    private final double defaultWeight;

    StepKind(double defaultWeight) {
        this.defaultWeight = defaultWeight;
    }

    /** Steps that end what is in flight: a seed makes them rarer, never much more frequent. */
    boolean isDisruptive() {
        return this == DECLINE || this == ABORT || this == FAILOVER || this == RESTORE_NO_CLAIM;
    }

    double defaultWeight() {
        return defaultWeight;
    }
}
