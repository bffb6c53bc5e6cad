package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Lists a job's checkpoint directory ({@code <state.checkpoints.dir>/<job id>}) on any Flink file
 * system, or each job directory below a common parent; and savepoint directories.
 */
final class DirectoryScanner {

    static final String METADATA = "_metadata";
    static final String SHARED = "shared";
    static final String TASK_OWNED = "taskowned";

    private static final Pattern CHECKPOINT = Pattern.compile("chk-(\\d+)");

    /**
     * The job directory {@code root}, or the job directories right below it if it is none.
     *
     * @throws InspectionException if {@code root} is missing, not a directory, or holds no job
     *     directory
     */
    List<JobDirectory> scanJobs(Path root) throws InspectionException {
        final List<FileStatus> children = listDirectory(root);
        final List<JobDirectory> jobs = new ArrayList<>();
        if (isJobDirectory(children)) {
            jobs.add(scanJob(root, children));
            return jobs;
        }
        for (FileStatus child : children) {
            if (child.isDir()) {
                final List<FileStatus> grandChildren = listDirectory(child.getPath());
                if (isJobDirectory(grandChildren)) {
                    jobs.add(scanJob(child.getPath(), grandChildren));
                }
            }
        }
        if (jobs.isEmpty()) {
            throw new InspectionException(
                    root
                            + " is not a job's checkpoint directory: it holds no chk-<id>, shared or"
                            + " taskowned directory, and no directory below it does.");
        }
        jobs.sort(Comparator.comparing(job -> job.getPath().toString()));
        return jobs;
    }

    /**
     * A savepoint (or any checkpoint) given by its directory or its {@code _metadata} file.
     *
     * @throws InspectionException if there is no {@code _metadata} file there
     */
    CheckpointDirectory scanSavepoint(Path path) throws InspectionException {
        final Path directory = METADATA.equals(path.getName()) ? path.getParent() : path;
        final List<FileStatus> children = listDirectory(directory);
        final CheckpointDirectory savepoint =
                checkpointDirectory(directory.toString(), directory, children, true);
        if (savepoint.getMetadata() == null) {
            throw new InspectionException(
                    "The savepoint directory " + directory + " holds no " + METADATA + " file.");
        }
        return savepoint;
    }

    /** The id of a {@code chk-<id>} directory, or -1 for a savepoint. */
    static long checkpointId(CheckpointDirectory checkpoint) {
        final Matcher matcher = CHECKPOINT.matcher(checkpoint.getName());
        return !checkpoint.isSavepoint() && matcher.matches()
                ? Long.parseLong(matcher.group(1))
                : -1;
    }

    private static boolean isJobDirectory(List<FileStatus> children) {
        for (FileStatus child : children) {
            final String name = child.getPath().getName();
            if (child.isDir()
                    && (CHECKPOINT.matcher(name).matches()
                            || SHARED.equals(name)
                            || TASK_OWNED.equals(name))) {
                return true;
            }
        }
        return false;
    }

    private JobDirectory scanJob(Path job, List<FileStatus> children) throws InspectionException {
        final List<CheckpointDirectory> checkpoints = new ArrayList<>();
        List<StoredFile> shared = new ArrayList<>();
        List<StoredFile> taskOwned = new ArrayList<>();
        for (FileStatus child : children) {
            if (!child.isDir()) {
                continue;
            }
            final String name = child.getPath().getName();
            if (CHECKPOINT.matcher(name).matches()) {
                checkpoints.add(
                        checkpointDirectory(
                                name, child.getPath(), listDirectory(child.getPath()), false));
            } else if (SHARED.equals(name)) {
                shared = listFilesBelow(child.getPath());
            } else if (TASK_OWNED.equals(name)) {
                taskOwned = listFilesBelow(child.getPath());
            }
        }
        checkpoints.sort(Comparator.comparingLong(DirectoryScanner::checkpointId));
        return new JobDirectory(job, checkpoints, shared, taskOwned);
    }

    private CheckpointDirectory checkpointDirectory(
            String name, Path directory, List<FileStatus> children, boolean savepoint)
            throws InspectionException {
        StoredFile metadata = null;
        long newest = modificationTime(directory);
        for (FileStatus child : children) {
            newest = Math.max(newest, child.getModificationTime());
            if (!child.isDir() && METADATA.equals(child.getPath().getName())) {
                metadata =
                        new StoredFile(
                                child.getPath(), child.getLen(), child.getModificationTime());
            }
        }
        return new CheckpointDirectory(name, directory, metadata, newest, savepoint);
    }

    private long modificationTime(Path directory) throws InspectionException {
        try {
            return directory.getFileSystem().getFileStatus(directory).getModificationTime();
        } catch (IOException e) {
            throw new InspectionException("Cannot read " + directory + ": " + e, e);
        }
    }

    /** Every file below {@code directory}, at any depth; none if it vanished meanwhile. */
    private List<StoredFile> listFilesBelow(Path directory) throws InspectionException {
        final List<StoredFile> files = new ArrayList<>();
        final List<Path> pending = new ArrayList<>();
        pending.add(directory);
        while (!pending.isEmpty()) {
            final FileStatus[] children = listOrNull(pending.remove(pending.size() - 1));
            if (children == null) {
                continue;
            }
            for (FileStatus child : children) {
                if (child.isDir()) {
                    pending.add(child.getPath());
                } else {
                    files.add(
                            new StoredFile(
                                    child.getPath(), child.getLen(), child.getModificationTime()));
                }
            }
        }
        files.sort(Comparator.comparing(file -> file.getPath().toString()));
        return files;
    }

    private List<FileStatus> listDirectory(Path directory) throws InspectionException {
        final FileSystem fs;
        final FileStatus status;
        try {
            fs = directory.getFileSystem();
            status = fs.getFileStatus(directory);
        } catch (FileNotFoundException e) {
            throw new InspectionException("No such directory: " + directory);
        } catch (IOException e) {
            throw new InspectionException("Cannot read " + directory + ": " + e, e);
        }
        if (!status.isDir()) {
            throw new InspectionException(directory + " is not a directory.");
        }
        final FileStatus[] children = listOrNull(directory);
        final List<FileStatus> list = new ArrayList<>();
        if (children != null) {
            for (FileStatus child : children) {
                list.add(child);
            }
        }
        return list;
    }

    private static FileStatus[] listOrNull(Path directory) throws InspectionException {
        try {
            return directory.getFileSystem().listStatus(directory);
        } catch (FileNotFoundException e) {
            return null;
        } catch (IOException e) {
            throw new InspectionException("Cannot list " + directory + ": " + e, e);
        }
    }
}
