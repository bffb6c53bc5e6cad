package io.statebackend.incremental.inspect;

import java.util.List;

/** A file in {@code shared/} and the retained checkpoints and savepoints that refer to it. */
public final class SharedFileReport {

    private final StoredFile file;
    private final List<String> referencedBy;

    SharedFileReport(StoredFile file, List<String> referencedBy) {
        this.file = file;
        this.referencedBy = referencedBy;
    }

    public StoredFile getFile() {
        return file;
    }

    /**
     * The checkpoints ({@code chk-<id>}, by id) and then the savepoints that refer to the file;
     * empty if none does.
     */
    public List<String> getReferencedBy() {
        return referencedBy;
    }

    /**
     * The earliest retained checkpoint that refers to the file. Flink's meta data does not record
     * which checkpoint uploaded a shared file: it was this one or an earlier one that is no longer
     * retained.
     */
    public String getFirstReferencedBy() {
        return referencedBy.isEmpty() ? "" : referencedBy.get(0);
    }

    public boolean isReferenced() {
        return !referencedBy.isEmpty();
    }
}
