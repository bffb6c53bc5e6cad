package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;

import java.util.List;

/** What a job's checkpoint directory holds: its checkpoints and its shared and task-owned files. */
public final class JobDirectory {

    private final Path path;
    private final List<CheckpointDirectory> checkpoints;
    private final List<StoredFile> sharedFiles;
    private final List<StoredFile> taskOwnedFiles;

    JobDirectory(
            Path path,
            List<CheckpointDirectory> checkpoints,
            List<StoredFile> sharedFiles,
            List<StoredFile> taskOwnedFiles) {
        this.path = path;
        this.checkpoints = checkpoints;
        this.sharedFiles = sharedFiles;
        this.taskOwnedFiles = taskOwnedFiles;
    }

    public Path getPath() {
        return path;
    }

    /** The {@code chk-<id>} directories, by id. */
    public List<CheckpointDirectory> getCheckpoints() {
        return checkpoints;
    }

    /** Every file below {@code shared/}. */
    public List<StoredFile> getSharedFiles() {
        return sharedFiles;
    }

    /** Every file below {@code taskowned/}. */
    public List<StoredFile> getTaskOwnedFiles() {
        return taskOwnedFiles;
    }
}
