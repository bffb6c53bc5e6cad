package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;

import java.net.URI;

/**
 * The identity of a file for matching handles against a listing: its authority and normalized path.
 * The scheme is left out because file systems spell the same local file {@code file:/a} and {@code
 * file:///a}.
 */
final class FileKey {

    private FileKey() {}

    static String of(Path path) {
        final URI uri = path.toUri().normalize();
        final String authority = uri.getAuthority() == null ? "" : uri.getAuthority();
        return authority + "|" + uri.getPath();
    }
}
