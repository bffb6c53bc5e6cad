package io.statebackend.incremental.snapshot;

import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.checkpoint.SnapshotType;

/**
 * The kinds of snapshot this backend writes, decided once per snapshot from what Flink asks for and
 * from the backend's configuration.
 */
public enum CheckpointType {
    /** New SST files uploaded as shared state, confirmed ones referred to. */
    INCREMENTAL,
    /**
     * A checkpoint that shares nothing with earlier ones. With incremental checkpoints on, its
     * files may be reused by later checkpoints (Flink's FULL_CHECKPOINT after a NO_CLAIM restore);
     * with them off, it is the canonical key-group stream.
     */
    FULL,
    /** A savepoint in Flink's canonical, backend-independent format. */
    SAVEPOINT_CANONICAL,
    /** A savepoint of the backend's own files, nothing shared, relocatable. */
    SAVEPOINT_NATIVE;

    /** Decides the kind of snapshot for the options of one checkpoint. */
    public static CheckpointType decide(
            CheckpointOptions options, boolean incrementalCheckpointsEnabled) {
        SnapshotType type = options.getCheckpointType();
        if (type.isSavepoint()) {
            return isCanonicalSavepoint(type) ? SAVEPOINT_CANONICAL : SAVEPOINT_NATIVE;
        }
        if (incrementalCheckpointsEnabled
                && type.getSharingFilesStrategy()
                        == SnapshotType.SharingFilesStrategy.FORWARD_BACKWARD) {
            return INCREMENTAL;
        }
        return FULL;
    }

    /**
     * Whether Flink asks for a savepoint in the canonical format; a savepoint that names no format
     * is canonical, the format every backend can read.
     */
    public static boolean isCanonicalSavepoint(SnapshotType type) {
        return type.isSavepoint()
                && !(type instanceof SavepointType
                        && ((SavepointType) type).getFormatType() == SavepointFormatType.NATIVE);
    }

    public boolean isSavepoint() {
        return this == SAVEPOINT_CANONICAL || this == SAVEPOINT_NATIVE;
    }
}
