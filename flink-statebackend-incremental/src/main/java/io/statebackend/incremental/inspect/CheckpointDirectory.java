package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;

import javax.annotation.Nullable;

/**
 * A {@code chk-<id>} directory of a job, or a savepoint directory given on the command line, with
 * its {@code _metadata} file if it has one. A checkpoint directory without one is a checkpoint that
 * is in progress, or was aborted or cut short.
 */
public final class CheckpointDirectory {

    private final String name;
    private final Path path;
    @Nullable private final StoredFile metadata;
    private final long newestModification;
    private final boolean savepoint;

    CheckpointDirectory(
            String name,
            Path path,
            @Nullable StoredFile metadata,
            long newestModification,
            boolean savepoint) {
        this.name = name;
        this.path = path;
        this.metadata = metadata;
        this.newestModification = newestModification;
        this.savepoint = savepoint;
    }

    /** {@code chk-<id>} for checkpoints, the path for savepoints. */
    public String getName() {
        return name;
    }

    public Path getPath() {
        return path;
    }

    @Nullable
    public StoredFile getMetadata() {
        return metadata;
    }

    /** The newest modification time of the directory and the files in it. */
    public long getNewestModification() {
        return newestModification;
    }

    public boolean isSavepoint() {
        return savepoint;
    }
}
