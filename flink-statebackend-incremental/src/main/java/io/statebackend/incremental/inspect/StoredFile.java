package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;

/** A file in checkpoint storage, as listed: its path, size and last modification. */
public final class StoredFile {

    private final Path path;
    private final long size;
    private final long modificationTime;

    StoredFile(Path path, long size, long modificationTime) {
        this.path = path;
        this.size = size;
        this.modificationTime = modificationTime;
    }

    public Path getPath() {
        return path;
    }

    public long getSize() {
        return size;
    }

    /** Milliseconds since the epoch, as the file system reports it (0 if it does not know). */
    public long getModificationTime() {
        return modificationTime;
    }
}
