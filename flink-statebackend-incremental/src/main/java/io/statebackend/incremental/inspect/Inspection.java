package io.statebackend.incremental.inspect;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The result of inspecting checkpoint directories: per job what it holds, and the savepoints. */
public final class Inspection {

    private final List<JobReport> jobs;
    private final List<CheckpointSummary> savepoints;
    private final long now;

    Inspection(List<JobReport> jobs, List<CheckpointSummary> savepoints, long now) {
        this.jobs = jobs;
        this.savepoints = savepoints;
        this.now = now;
    }

    public List<JobReport> getJobs() {
        return jobs;
    }

    /** The savepoints given on the command line. */
    public List<CheckpointSummary> getSavepoints() {
        return savepoints;
    }

    /** When the directories were listed, in milliseconds since the epoch. */
    public long getNow() {
        return now;
    }

    /** Every retained checkpoint and given savepoint. */
    public List<CheckpointSummary> allCheckpoints() {
        final List<CheckpointSummary> all = new ArrayList<>();
        for (JobReport job : jobs) {
            all.addAll(job.getCheckpoints());
        }
        all.addAll(savepoints);
        return all;
    }

    /** The unreferenced files in {@code shared/} at least {@code minAge} old, of all jobs. */
    public List<StoredFile> unreferencedSharedFilesOlderThan(Duration minAge) {
        final List<StoredFile> old = new ArrayList<>();
        for (JobReport job : jobs) {
            for (StoredFile file : job.getUnreferencedSharedFiles()) {
                if (file.getModificationTime() > 0
                        && now - file.getModificationTime() >= minAge.toMillis()) {
                    old.add(file);
                }
            }
        }
        return old;
    }
}
