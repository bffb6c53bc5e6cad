package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.rocksdb.SharedDbFiles;

import javax.annotation.concurrent.ThreadSafe;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Finds the blob files RocksDB finished since the last look into the database directory.
 * RocksJava's event listener reports table files only, so blob files are found by listing the
 * directory after each flush or compaction. A blob file is finished once it ends with a footer
 * whose checksum matches: RocksDB writes the footer last, when it closes the file.
 */
@ThreadSafe
final class BlobFilesInDirectory {

    private final Path directory;

    /** Blob files present at the last look and reported, or belonging to a checkpoint. */
    private final Set<String> known = new HashSet<>();

    BlobFilesInDirectory(Path directory) {
        this.directory = directory;
    }

    /**
     * Marks every blob file now in the directory as known, so that it is never reported as new: a
     * checkpoint that starts now uploads it itself.
     */
    synchronized void markPresentAsKnown() throws IOException {
        known.addAll(SharedDbFiles.blobFilesIn(directory));
    }

    /**
     * Finished blob files not reported before; each is reported once. Forgets the files that are
     * gone.
     */
    synchronized List<Path> newFinishedFiles() throws IOException {
        final List<String> present = SharedDbFiles.blobFilesIn(directory);
        known.retainAll(new HashSet<>(present));
        final List<Path> finished = new ArrayList<>();
        for (String name : present) {
            if (known.contains(name)) {
                continue;
            }
            Path file = directory.resolve(name);
            if (BlobFileChecksums.hasFooter(file)) {
                known.add(name);
                finished.add(file);
            }
        }
        return finished;
    }

    /** Whether the blob file is still in the directory. */
    boolean contains(String name) {
        return Files.exists(directory.resolve(name));
    }
}
