package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.rocksdb.SharedDbFiles;
import io.statebackend.incremental.transfer.UploadCheck;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The check before an upload: RocksDB's own checksums of SST and blob files. The other files
 * (MANIFEST, CURRENT, OPTIONS) are small, rewritten with every checkpoint, and read by RocksDB as
 * soon as a restore opens the database.
 */
public final class LocalFileVerification {

    /** Verifies the SST and blob files among the uploaded files and lets the others pass. */
    public static final UploadCheck BEFORE_UPLOAD = LocalFileVerification::verify;

    private LocalFileVerification() {}

    private static void verify(Path file) throws IOException {
        String name = file.getFileName().toString();
        if (SharedDbFiles.isSstFile(name)) {
            SstBlockChecksums.verify(file);
        } else if (SharedDbFiles.isBlobFile(name)) {
            BlobFileChecksums.verify(file);
        }
    }
}
