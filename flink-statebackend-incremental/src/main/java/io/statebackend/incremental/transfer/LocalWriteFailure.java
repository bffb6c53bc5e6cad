package io.statebackend.incremental.transfer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Writing a file on the local disk failed: a full disk, a missing or read-only directory. Trying
 * the transfer again would fail the same way, so the retry policy does not.
 */
final class LocalWriteFailure extends IOException {

    private static final long serialVersionUID = 1L;

    LocalWriteFailure(Path file, IOException cause) {
        super("Could not write " + file + ": " + cause.getMessage(), cause);
    }
}
