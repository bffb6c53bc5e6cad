package io.statebackend.incremental.transfer;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reading or writing a file on the local disk failed: a full disk, a missing or read-only
 * directory, a file that is gone. Trying the transfer again would fail the same way, so the retry
 * policy does not.
 */
final class LocalFileFailure extends IOException {

    private static final long serialVersionUID = 1L;

    private LocalFileFailure(String action, Path file, IOException cause) {
        super("Could not " + action + " " + file + ": " + reason(cause), cause);
    }

    /** The JDK's exceptions about missing files carry only the path, which is said already. */
    private static String reason(IOException cause) {
        return cause instanceof NoSuchFileException
                ? "it does not exist"
                : String.valueOf(cause.getMessage());
    }

    static LocalFileFailure writing(Path file, IOException cause) {
        return new LocalFileFailure("write", file, cause);
    }

    static LocalFileFailure reading(Path file, IOException cause) {
        return new LocalFileFailure("read", file, cause);
    }

    /** Opens a local file whose failures to open or read are {@link LocalFileFailure}s. */
    static InputStream openForReading(Path file) throws LocalFileFailure {
        try {
            return new LocalFileInput(Files.newInputStream(file), file);
        } catch (IOException e) {
            throw reading(file, e);
        }
    }

    /** Marks the read failures of a local file; closing is not reading and fails as it is. */
    private static final class LocalFileInput extends FilterInputStream {

        private final Path file;

        LocalFileInput(InputStream in, Path file) {
            super(in);
            this.file = file;
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                throw reading(file, e);
            }
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            try {
                return super.read(buffer, offset, length);
            } catch (IOException e) {
                throw reading(file, e);
            }
        }
    }
}
