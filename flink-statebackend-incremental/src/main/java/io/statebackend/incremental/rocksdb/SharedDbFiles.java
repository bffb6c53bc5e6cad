package io.statebackend.incremental.rocksdb;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Which of RocksDB's files a checkpoint may share with later checkpoints.
 *
 * <p>SST files and blob files (the values RocksDB keeps apart from the keys when blob files are
 * enabled) are written once and never changed, and their names come from the database's one file
 * number counter, so a name stands for the same bytes for the database's life. Every other file
 * (MANIFEST, CURRENT, OPTIONS) changes and is uploaded with each checkpoint.
 */
public final class SharedDbFiles {

    private static final String SST_SUFFIX = ".sst";
    private static final String BLOB_SUFFIX = ".blob";

    private SharedDbFiles() {}

    /** Whether the named file is immutable, so that a checkpoint can refer to an earlier upload. */
    public static boolean isShareable(String fileName) {
        return fileName.endsWith(SST_SUFFIX) || fileName.endsWith(BLOB_SUFFIX);
    }

    /** Whether the named file is a blob file, holding values that SST files refer to. */
    public static boolean isBlobFile(String fileName) {
        return fileName.endsWith(BLOB_SUFFIX);
    }

    /** The names of the blob files in the directory, sorted; none if it does not exist. */
    public static List<String> blobFilesIn(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            return Collections.emptyList();
        }
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString())
                    .filter(SharedDbFiles::isBlobFile)
                    .sorted()
                    .collect(Collectors.toList());
        }
    }

    /** Whether the named file is an SST file, whose blocks RocksDB can verify. */
    public static boolean isSstFile(String fileName) {
        return fileName.endsWith(SST_SUFFIX);
    }
}
