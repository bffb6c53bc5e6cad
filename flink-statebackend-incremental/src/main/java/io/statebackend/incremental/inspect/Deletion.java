package io.statebackend.incremental.inspect;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Deletes the unreferenced files in {@code shared/} that are old enough, if the {@link
 * DeletionGuard} allows it; or only says what it would delete (dry run).
 */
public final class Deletion {

    private final Duration olderThan;
    private final boolean dryRun;
    private final List<String> refusedBecause;
    private final List<StoredFile> candidates;
    private final List<StoredFile> deleted;
    private final Map<String, String> failures;

    private Deletion(
            Duration olderThan,
            boolean dryRun,
            List<String> refusedBecause,
            List<StoredFile> candidates,
            List<StoredFile> deleted,
            Map<String, String> failures) {
        this.olderThan = olderThan;
        this.dryRun = dryRun;
        this.refusedBecause = refusedBecause;
        this.candidates = candidates;
        this.deleted = deleted;
        this.failures = failures;
    }

    /**
     * Deletes (or, with {@code dryRun}, lists) the unreferenced shared files at least {@code
     * olderThan} old; nothing if the guard refuses.
     */
    static Deletion run(Inspection inspection, Duration olderThan, boolean dryRun) {
        final List<String> refused = DeletionGuard.reasonsToRefuse(inspection, olderThan);
        if (!refused.isEmpty()) {
            return new Deletion(
                    olderThan,
                    dryRun,
                    refused,
                    Collections.emptyList(),
                    Collections.emptyList(),
                    Collections.emptyMap());
        }
        final List<StoredFile> candidates = inspection.unreferencedSharedFilesOlderThan(olderThan);
        final List<StoredFile> deleted = new ArrayList<>();
        final Map<String, String> failures = new LinkedHashMap<>();
        if (!dryRun) {
            for (StoredFile file : candidates) {
                try {
                    final org.apache.flink.core.fs.FileSystem fs = file.getPath().getFileSystem();
                    // gone meanwhile (Flink's own cleanup, or a second run) counts as deleted
                    if (fs.delete(file.getPath(), false) || !fs.exists(file.getPath())) {
                        deleted.add(file);
                    } else {
                        failures.put(
                                file.getPath().toString(), "the file system did not delete it");
                    }
                } catch (Exception e) {
                    failures.put(file.getPath().toString(), String.valueOf(e));
                }
            }
        }
        return new Deletion(olderThan, dryRun, refused, candidates, deleted, failures);
    }

    public Duration getOlderThan() {
        return olderThan;
    }

    public boolean isDryRun() {
        return dryRun;
    }

    public boolean isRefused() {
        return !refusedBecause.isEmpty();
    }

    public List<String> getRefusedBecause() {
        return refusedBecause;
    }

    /** The files it deletes, or would delete in a dry run. */
    public List<StoredFile> getCandidates() {
        return candidates;
    }

    public List<StoredFile> getDeleted() {
        return deleted;
    }

    /** Files that could not be deleted, by path, with the reason. */
    public Map<String, String> getFailures() {
        return failures;
    }
}
