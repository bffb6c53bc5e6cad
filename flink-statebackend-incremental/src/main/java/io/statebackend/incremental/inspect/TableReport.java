package io.statebackend.incremental.inspect;

import javax.annotation.Nullable;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Renders an inspection as text with Markdown tables, for people. */
final class TableReport {

    private TableReport() {}

    static String render(Inspection inspection, @Nullable Deletion deletion) {
        final StringBuilder out = new StringBuilder();
        final long now = inspection.getNow();
        for (JobReport job : inspection.getJobs()) {
            out.append("Job directory ").append(job.getDirectory().getPath()).append('\n');
            out.append("  retained checkpoints: ").append(names(job.getCheckpoints())).append('\n');
            if (!job.getIncompleteCheckpoints().isEmpty()) {
                out.append("  without _metadata (in progress or aborted): ");
                appendNames(out, job.getIncompleteCheckpoints());
                out.append('\n');
            }
            out.append('\n');
            for (CheckpointSummary checkpoint : job.getCheckpoints()) {
                appendCheckpoint(out, checkpoint);
            }
            appendSharedFiles(out, job, now);
            appendUnreferenced(out, job, "shared/", job.getUnreferencedSharedFiles(), now);
            appendUnreferenced(out, job, "taskowned/", job.getUnreferencedTaskOwnedFiles(), now);
            if (!job.getMissingFiles().isEmpty()) {
                out.append("Files retained checkpoints refer to that are gone: ")
                        .append(job.getMissingFiles().size())
                        .append('\n');
                for (String missing : job.getMissingFiles()) {
                    out.append("  ").append(missing).append('\n');
                }
                out.append('\n');
            }
        }
        for (CheckpointSummary savepoint : inspection.getSavepoints()) {
            appendCheckpoint(out, savepoint);
        }
        if (deletion != null) {
            appendDeletion(out, deletion);
        }
        return out.toString();
    }

    private static void appendCheckpoint(StringBuilder out, CheckpointSummary checkpoint) {
        final CheckpointDirectory directory = checkpoint.getDirectory();
        out.append(directory.isSavepoint() ? "Savepoint " : "Checkpoint ")
                .append(directory.isSavepoint() ? directory.getPath() : directory.getName());
        if (!checkpoint.isReadable()) {
            out.append(": UNREADABLE: ").append(checkpoint.getError()).append("\n\n");
            return;
        }
        if (directory.isSavepoint()) {
            out.append(" (checkpoint id ").append(checkpoint.getCheckpointId()).append(')');
        }
        if (directory.getMetadata() != null) {
            out.append(", _metadata written ")
                    .append(Instant.ofEpochMilli(directory.getMetadata().getModificationTime()));
        }
        out.append('\n');
        final TextTable table =
                new TextTable(
                                "operator",
                                "subtasks",
                                "state size",
                                "checkpointed size",
                                "shared files",
                                "private files",
                                "inline")
                        .alignRight(1, 2, 3, 4, 5, 6);
        for (OperatorSummary operator : checkpoint.getOperators()) {
            table.add(
                    operator.getOperatorId(),
                    operator.getSubtasksWithState() + "/" + operator.getParallelism(),
                    Formats.bytes(operator.getStateSize()),
                    Formats.bytes(operator.getCheckpointedSize()),
                    operator.getSharedFiles(),
                    operator.getPrivateFiles(),
                    operator.getInlineHandles());
        }
        table.appendTo(out);
        if (!checkpoint.getUnknownHandles().isEmpty()) {
            out.append("  state handles of unknown types: ")
                    .append(new java.util.TreeSet<>(checkpoint.getUnknownHandles()))
                    .append('\n');
        }
        out.append('\n');
    }

    private static void appendSharedFiles(StringBuilder out, JobReport job, long now) {
        final List<SharedFileReport> files = job.getSharedFiles();
        long total = 0;
        int referenced = 0;
        for (SharedFileReport file : files) {
            total += file.getFile().getSize();
            referenced += file.isReferenced() ? 1 : 0;
        }
        out.append("Files in shared/: ")
                .append(files.size())
                .append(" (")
                .append(Formats.bytes(total))
                .append("), referenced ")
                .append(referenced)
                .append(", unreferenced ")
                .append(files.size() - referenced)
                .append('\n');
        if (files.isEmpty()) {
            out.append('\n');
            return;
        }
        final TextTable table =
                new TextTable("file", "size", "age", "first referenced by", "referenced by")
                        .alignRight(1, 2);
        for (SharedFileReport file : files) {
            table.add(
                    file.getFile().getPath().getName(),
                    Formats.bytes(file.getFile().getSize()),
                    age(file.getFile(), now),
                    file.isReferenced() ? file.getFirstReferencedBy() : "(none)",
                    String.join(", ", file.getReferencedBy()));
        }
        table.appendTo(out);
        out.append('\n');
    }

    private static void appendUnreferenced(
            StringBuilder out, JobReport job, String directory, List<StoredFile> files, long now) {
        long total = 0;
        for (StoredFile file : files) {
            total += file.getSize();
        }
        out.append("Unreferenced files in ").append(directory).append(": ");
        if (files.isEmpty()) {
            out.append("none\n\n");
            return;
        }
        out.append(files.size()).append(" (").append(Formats.bytes(total)).append(")\n");
        final TextTable table = new TextTable("file", "size", "age").alignRight(1, 2);
        for (StoredFile file : files) {
            table.add(relativePath(job, file), Formats.bytes(file.getSize()), age(file, now));
        }
        table.appendTo(out);
        out.append('\n');
    }

    private static void appendDeletion(StringBuilder out, Deletion deletion) {
        out.append("Deletion of unreferenced files in shared/ older than ")
                .append(Formats.age(deletion.getOlderThan().toMillis()))
                .append(": ");
        if (deletion.isRefused()) {
            out.append("REFUSED, nothing deleted:\n");
            for (String reason : deletion.getRefusedBecause()) {
                out.append("  - ").append(reason).append('\n');
            }
            return;
        }
        long total = 0;
        for (StoredFile file : deletion.getCandidates()) {
            total += file.getSize();
        }
        if (deletion.isDryRun()) {
            out.append("dry run, ")
                    .append(deletion.getCandidates().size())
                    .append(" file(s) (")
                    .append(Formats.bytes(total))
                    .append(") would be deleted; add --yes to delete them.\n");
            for (StoredFile file : deletion.getCandidates()) {
                out.append("  would delete ").append(file.getPath()).append('\n');
            }
            return;
        }
        out.append(deletion.getDeleted().size())
                .append(" of ")
                .append(deletion.getCandidates().size())
                .append(" file(s) deleted (")
                .append(Formats.bytes(total))
                .append(").\n");
        for (StoredFile file : deletion.getDeleted()) {
            out.append("  deleted ").append(file.getPath()).append('\n');
        }
        for (Map.Entry<String, String> failure : deletion.getFailures().entrySet()) {
            out.append("  NOT deleted ")
                    .append(failure.getKey())
                    .append(": ")
                    .append(failure.getValue())
                    .append('\n');
        }
    }

    private static String names(List<CheckpointSummary> checkpoints) {
        if (checkpoints.isEmpty()) {
            return "none";
        }
        final StringBuilder names = new StringBuilder();
        for (CheckpointSummary checkpoint : checkpoints) {
            names.append(names.length() == 0 ? "" : ", ")
                    .append(checkpoint.getDirectory().getName());
            if (!checkpoint.isReadable()) {
                names.append(" (unreadable)");
            }
        }
        return names.toString();
    }

    private static void appendNames(StringBuilder out, List<CheckpointDirectory> directories) {
        for (int i = 0; i < directories.size(); i++) {
            out.append(i == 0 ? "" : ", ").append(directories.get(i).getName());
        }
    }

    /** The file's path below the job directory; the JSON output has the full paths. */
    private static String relativePath(JobReport job, StoredFile file) {
        final String jobPath = job.getDirectory().getPath().toUri().getPath();
        final String path = file.getPath().toUri().getPath();
        return path.startsWith(jobPath + "/") ? path.substring(jobPath.length() + 1) : path;
    }

    private static String age(StoredFile file, long now) {
        return file.getModificationTime() <= 0
                ? "unknown"
                : Formats.age(now - file.getModificationTime());
    }
}
