package io.statebackend.incremental.transfer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Decides whether a local file may be uploaded at all. It runs once before the first attempt; a
 * file that fails it is not uploaded, and not tried again, as the same bytes would fail again.
 */
@FunctionalInterface
public interface UploadCheck {

    /** Lets every file be uploaded. */
    UploadCheck NONE = file -> {};

    /**
     * @throws IOException saying why the file must not be uploaded
     */
    void check(Path file) throws IOException;
}
