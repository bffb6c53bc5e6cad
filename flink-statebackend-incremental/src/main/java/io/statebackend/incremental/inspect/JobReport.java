package io.statebackend.incremental.inspect;

import java.util.List;

/** The inspection of one job directory. */
public final class JobReport {

    private final JobDirectory directory;
    private final List<CheckpointSummary> checkpoints;
    private final List<CheckpointDirectory> incompleteCheckpoints;
    private final List<SharedFileReport> sharedFiles;
    private final List<StoredFile> unreferencedTaskOwnedFiles;
    private final List<String> missingFiles;

    JobReport(
            JobDirectory directory,
            List<CheckpointSummary> checkpoints,
            List<CheckpointDirectory> incompleteCheckpoints,
            List<SharedFileReport> sharedFiles,
            List<StoredFile> unreferencedTaskOwnedFiles,
            List<String> missingFiles) {
        this.directory = directory;
        this.checkpoints = checkpoints;
        this.incompleteCheckpoints = incompleteCheckpoints;
        this.sharedFiles = sharedFiles;
        this.unreferencedTaskOwnedFiles = unreferencedTaskOwnedFiles;
        this.missingFiles = missingFiles;
    }

    public JobDirectory getDirectory() {
        return directory;
    }

    /** The retained checkpoints: {@code chk-<id>} directories with a {@code _metadata} file. */
    public List<CheckpointSummary> getCheckpoints() {
        return checkpoints;
    }

    /** {@code chk-<id>} directories without {@code _metadata}: in progress, aborted or cut off. */
    public List<CheckpointDirectory> getIncompleteCheckpoints() {
        return incompleteCheckpoints;
    }

    /** Every file in {@code shared/}, with what refers to it. */
    public List<SharedFileReport> getSharedFiles() {
        return sharedFiles;
    }

    /** The files in {@code shared/} no retained checkpoint or given savepoint refers to. */
    public List<StoredFile> getUnreferencedSharedFiles() {
        final List<StoredFile> unreferenced = new java.util.ArrayList<>();
        for (SharedFileReport shared : sharedFiles) {
            if (!shared.isReferenced()) {
                unreferenced.add(shared.getFile());
            }
        }
        return unreferenced;
    }

    /** The files in {@code taskowned/} nothing read refers to (reported, never deleted). */
    public List<StoredFile> getUnreferencedTaskOwnedFiles() {
        return unreferencedTaskOwnedFiles;
    }

    /** Files below this job directory that a retained checkpoint refers to but that are gone. */
    public List<String> getMissingFiles() {
        return missingFiles;
    }
}
