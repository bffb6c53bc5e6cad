package io.statebackend.incremental.model;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/** What the storage holds compared with what the snapshots the model keeps refer to. */
final class FileReport {

    private final int filesPresent;
    private final List<Path> unreferenced;
    private final List<Path> missing;
    private final Function<Path, String> origin;

    FileReport(
            int filesPresent,
            List<Path> unreferenced,
            List<Path> missing,
            Function<Path, String> origin) {
        this.filesPresent = filesPresent;
        this.unreferenced = unreferenced;
        this.missing = missing;
        this.origin = origin;
    }

    int filesPresent() {
        return filesPresent;
    }

    List<Path> unreferenced() {
        return unreferenced;
    }

    List<Path> missing() {
        return missing;
    }

    boolean isClean() {
        return unreferenced.isEmpty() && missing.isEmpty();
    }

    String describe(Path root) {
        StringBuilder text = new StringBuilder();
        text.append(filesPresent).append(" files in storage");
        if (!unreferenced.isEmpty()) {
            text.append("; ").append(unreferenced.size()).append(" referenced by nothing kept:");
            for (Path file : unreferenced) {
                text.append("\n  ")
                        .append(root.relativize(file))
                        .append(" (")
                        .append(origin.apply(file))
                        .append(')');
            }
        }
        if (!missing.isEmpty()) {
            text.append("; ").append(missing.size()).append(" referenced but missing:");
            for (Path file : missing) {
                text.append("\n  ").append(root.relativize(file));
            }
        }
        return text.toString();
    }
}
