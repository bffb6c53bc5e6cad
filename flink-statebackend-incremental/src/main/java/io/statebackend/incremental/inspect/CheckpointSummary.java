package io.statebackend.incremental.inspect;

import javax.annotation.Nullable;

import java.util.List;
import java.util.Set;

/**
 * One retained checkpoint or savepoint as its {@code _metadata} describes it; or, if that could not
 * be read, the reason.
 */
public final class CheckpointSummary {

    private final CheckpointDirectory directory;
    private final long checkpointId;
    private final List<OperatorSummary> operators;
    private final Set<String> sharedFiles;
    private final Set<String> privateFiles;
    private final List<String> unknownHandles;
    @Nullable private final String error;

    CheckpointSummary(
            CheckpointDirectory directory,
            long checkpointId,
            List<OperatorSummary> operators,
            Set<String> sharedFiles,
            Set<String> privateFiles,
            List<String> unknownHandles) {
        this.directory = directory;
        this.checkpointId = checkpointId;
        this.operators = operators;
        this.sharedFiles = sharedFiles;
        this.privateFiles = privateFiles;
        this.unknownHandles = unknownHandles;
        this.error = null;
    }

    private CheckpointSummary(CheckpointDirectory directory, String error) {
        this.directory = directory;
        this.checkpointId = DirectoryScanner.checkpointId(directory);
        this.operators = List.of();
        this.sharedFiles = Set.of();
        this.privateFiles = Set.of();
        this.unknownHandles = List.of();
        this.error = error;
    }

    static CheckpointSummary unreadable(CheckpointDirectory directory, String error) {
        return new CheckpointSummary(directory, error);
    }

    public CheckpointDirectory getDirectory() {
        return directory;
    }

    public long getCheckpointId() {
        return checkpointId;
    }

    public List<OperatorSummary> getOperators() {
        return operators;
    }

    /** Keys ({@link FileKey}) of the shared files it refers to. */
    public Set<String> getSharedFiles() {
        return sharedFiles;
    }

    /** Keys ({@link FileKey}) of the other files it refers to. */
    public Set<String> getPrivateFiles() {
        return privateFiles;
    }

    /** Handles of types the inspector does not know: what they refer to is unknown. */
    public List<String> getUnknownHandles() {
        return unknownHandles;
    }

    /** Why the meta data could not be read, or null. */
    @Nullable
    public String getError() {
        return error;
    }

    public boolean isReadable() {
        return error == null;
    }
}
