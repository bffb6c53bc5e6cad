package io.statebackend.incremental.inspect;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides whether unreferenced files may be deleted. A job that is still running (or a JobManager
 * that is still finishing a checkpoint) writes new shared files before the meta data that refers to
 * them: such a file looks unreferenced until its checkpoint completes. Nothing is deleted while the
 * directories show signs of that: a checkpoint directory or shared file younger than the given age,
 * or a checkpoint whose references cannot be read.
 */
final class DeletionGuard {

    private DeletionGuard() {}

    /** The reasons not to delete anything; empty if deleting is safe by these rules. */
    static List<String> reasonsToRefuse(Inspection inspection, Duration minAge) {
        final List<String> reasons = new ArrayList<>();
        final long now = inspection.getNow();
        for (JobReport job : inspection.getJobs()) {
            for (CheckpointDirectory checkpoint : job.getDirectory().getCheckpoints()) {
                final long modified = checkpoint.getNewestModification();
                if (modified <= 0) {
                    reasons.add(
                            checkpoint.getPath()
                                    + " has no modification time: its age is unknown.");
                } else if (now - modified < minAge.toMillis()) {
                    reasons.add(
                            String.format(
                                    "%s was modified %s ago, less than %s: the job may be"
                                            + " running.",
                                    checkpoint.getPath(),
                                    Formats.age(now - modified),
                                    Formats.age(minAge.toMillis())));
                }
            }
            int young = 0;
            StoredFile youngest = null;
            for (SharedFileReport shared : job.getSharedFiles()) {
                final StoredFile file = shared.getFile();
                if (file.getModificationTime() <= 0
                        || now - file.getModificationTime() < minAge.toMillis()) {
                    young++;
                    if (youngest == null
                            || file.getModificationTime() > youngest.getModificationTime()) {
                        youngest = file;
                    }
                }
            }
            if (youngest != null) {
                reasons.add(
                        String.format(
                                "%d file(s) in %s/shared were written less than %s ago (the"
                                        + " newest, %s, %s ago): the job may be running.",
                                young,
                                job.getDirectory().getPath(),
                                Formats.age(minAge.toMillis()),
                                youngest.getPath().getName(),
                                youngest.getModificationTime() <= 0
                                        ? "of unknown age"
                                        : Formats.age(now - youngest.getModificationTime())));
            }
        }
        for (CheckpointSummary checkpoint : inspection.allCheckpoints()) {
            if (!checkpoint.isReadable()) {
                reasons.add(
                        "The references of "
                                + checkpoint.getDirectory().getPath()
                                + " are unknown: "
                                + checkpoint.getError());
            } else if (!checkpoint.getUnknownHandles().isEmpty()) {
                reasons.add(
                        "The references of "
                                + checkpoint.getDirectory().getPath()
                                + " are unknown: it holds state handles of types the inspector"
                                + " cannot read: "
                                + new java.util.TreeSet<>(checkpoint.getUnknownHandles()));
            }
        }
        return reasons;
    }
}
