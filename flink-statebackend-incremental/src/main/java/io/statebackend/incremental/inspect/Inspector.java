package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Inspects checkpoint directories: lists them, reads the meta data of every retained checkpoint and
 * given savepoint, and tells for every file in {@code shared/} which of them refer to it.
 *
 * <p>A file counts as referenced if any retained checkpoint of any inspected job, or any given
 * savepoint, refers to it: a job restored from another job's checkpoint keeps referring to files in
 * that job's {@code shared/}, so inspecting their common parent directory, or passing the other
 * job's checkpoints with {@code --savepoint}, keeps those files.
 */
public final class Inspector {

    private final DirectoryScanner scanner = new DirectoryScanner();
    private final MetadataReader reader = new MetadataReader();
    private final ReferenceCollector collector = new ReferenceCollector();

    /**
     * @param root a job's checkpoint directory, or a directory holding job directories
     * @param savepoints savepoint directories (or {@code _metadata} files) whose references count
     * @param now the time the ages of files are measured against, in milliseconds since the epoch
     * @throws InspectionException if a directory is missing or is not what it should be
     */
    public Inspection inspect(Path root, List<Path> savepoints, long now)
            throws InspectionException {
        final List<JobDirectory> jobs = scanner.scanJobs(root);
        final boolean severalJobs = jobs.size() > 1;

        final List<CheckpointSummary> savepointSummaries = new ArrayList<>();
        for (Path savepoint : savepoints) {
            savepointSummaries.add(summarize(scanner.scanSavepoint(savepoint)));
        }
        final Map<JobDirectory, List<CheckpointSummary>> checkpointsPerJob = new HashMap<>();
        final List<Named> referrers = new ArrayList<>();
        for (JobDirectory job : jobs) {
            final List<CheckpointSummary> checkpoints = new ArrayList<>();
            for (CheckpointDirectory checkpoint : job.getCheckpoints()) {
                if (checkpoint.getMetadata() != null) {
                    final CheckpointSummary summary = summarize(checkpoint);
                    checkpoints.add(summary);
                    referrers.add(
                            new Named(
                                    severalJobs
                                            ? job.getPath().getName() + "/" + checkpoint.getName()
                                            : checkpoint.getName(),
                                    summary));
                }
            }
            checkpointsPerJob.put(job, checkpoints);
        }
        // earliest checkpoint first, savepoints after the checkpoints
        referrers.sort(
                Comparator.comparingLong(
                                (Named named) -> named.summary.getDirectory().isSavepoint() ? 1 : 0)
                        .thenComparingLong(named -> named.summary.getCheckpointId()));
        for (CheckpointSummary savepoint : savepointSummaries) {
            referrers.add(new Named(savepoint.getDirectory().getName(), savepoint));
        }

        final Map<String, List<String>> referencedBy = new HashMap<>();
        final Set<String> allReferenced = new HashSet<>();
        for (Named referrer : referrers) {
            for (String file : referrer.summary.getSharedFiles()) {
                referencedBy.computeIfAbsent(file, key -> new ArrayList<>()).add(referrer.name);
            }
            for (String file : referrer.summary.getPrivateFiles()) {
                referencedBy.computeIfAbsent(file, key -> new ArrayList<>()).add(referrer.name);
            }
            allReferenced.addAll(referrer.summary.getSharedFiles());
            allReferenced.addAll(referrer.summary.getPrivateFiles());
        }

        final List<JobReport> reports = new ArrayList<>();
        for (JobDirectory job : jobs) {
            reports.add(report(job, checkpointsPerJob.get(job), referencedBy, allReferenced));
        }
        return new Inspection(reports, savepointSummaries, now);
    }

    private JobReport report(
            JobDirectory job,
            List<CheckpointSummary> checkpoints,
            Map<String, List<String>> referencedBy,
            Set<String> allReferenced) {
        final List<CheckpointDirectory> incomplete = new ArrayList<>();
        for (CheckpointDirectory checkpoint : job.getCheckpoints()) {
            if (checkpoint.getMetadata() == null) {
                incomplete.add(checkpoint);
            }
        }
        final List<SharedFileReport> shared = new ArrayList<>();
        final Set<String> listed = new HashSet<>();
        for (StoredFile file : job.getSharedFiles()) {
            final String key = FileKey.of(file.getPath());
            listed.add(key);
            shared.add(new SharedFileReport(file, referencedBy.getOrDefault(key, List.of())));
        }
        final List<StoredFile> taskOwned = new ArrayList<>();
        for (StoredFile file : job.getTaskOwnedFiles()) {
            if (!allReferenced.contains(FileKey.of(file.getPath()))) {
                taskOwned.add(file);
            }
        }
        final String sharedPrefix =
                FileKey.of(new Path(job.getPath(), DirectoryScanner.SHARED)) + "/";
        final Set<String> missing = new java.util.TreeSet<>();
        for (CheckpointSummary checkpoint : checkpoints) {
            for (String file : checkpoint.getSharedFiles()) {
                if (file.startsWith(sharedPrefix) && !listed.contains(file)) {
                    missing.add(file.substring(file.indexOf('|') + 1));
                }
            }
        }
        return new JobReport(
                job, checkpoints, incomplete, shared, taskOwned, new ArrayList<>(missing));
    }

    private CheckpointSummary summarize(CheckpointDirectory checkpoint) {
        try {
            return collector.collect(checkpoint, reader.read(checkpoint));
        } catch (InspectionException e) {
            return CheckpointSummary.unreadable(checkpoint, e.getMessage());
        }
    }

    private static final class Named {
        final String name;
        final CheckpointSummary summary;

        Named(String name, CheckpointSummary summary) {
            this.name = name;
            this.summary = summary;
        }
    }
}
