package io.statebackend.incremental.inspect;

/** What one checkpoint holds of one operator. */
public final class OperatorSummary {

    private final String operatorId;
    private final int parallelism;
    private final int subtasksWithState;
    private final long stateSize;
    private final long checkpointedSize;
    private final int sharedFiles;
    private final int privateFiles;
    private final int inlineHandles;

    OperatorSummary(
            String operatorId,
            int parallelism,
            int subtasksWithState,
            long stateSize,
            long checkpointedSize,
            int sharedFiles,
            int privateFiles,
            int inlineHandles) {
        this.operatorId = operatorId;
        this.parallelism = parallelism;
        this.subtasksWithState = subtasksWithState;
        this.stateSize = stateSize;
        this.checkpointedSize = checkpointedSize;
        this.sharedFiles = sharedFiles;
        this.privateFiles = privateFiles;
        this.inlineHandles = inlineHandles;
    }

    public String getOperatorId() {
        return operatorId;
    }

    public int getParallelism() {
        return parallelism;
    }

    public int getSubtasksWithState() {
        return subtasksWithState;
    }

    /** All state the checkpoint refers to. */
    public long getStateSize() {
        return stateSize;
    }

    /** What the checkpoint wrote itself (the incremental part). */
    public long getCheckpointedSize() {
        return checkpointedSize;
    }

    /** Files shared between checkpoints (incremental keyed state). */
    public int getSharedFiles() {
        return sharedFiles;
    }

    /** Files of this checkpoint only. */
    public int getPrivateFiles() {
        return privateFiles;
    }

    /** Handles small enough to be kept inside the {@code _metadata} file. */
    public int getInlineHandles() {
        return inlineHandles;
    }
}
