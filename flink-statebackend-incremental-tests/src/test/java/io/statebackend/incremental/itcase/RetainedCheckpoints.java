package io.statebackend.incremental.itcase;

import org.apache.flink.api.common.JobID;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.OperatorStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;

import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Finds the checkpoints a job retained in its checkpoint directory ({@code <base>/<job
 * id>/chk-<id>/_metadata}) and lists the files their meta data refers to.
 */
public final class RetainedCheckpoints {

    static final String METADATA_FILE = "_metadata";

    private static final Pattern CHECKPOINT_DIRECTORY = Pattern.compile("chk-(\\d+)");

    private RetainedCheckpoints() {}

    public static Path jobDirectory(Path checkpointsBase, JobID jobId) {
        return checkpointsBase.resolve(jobId.toHexString());
    }

    /** Every {@code chk-<id>} directory of the job, complete or not, by id. */
    public static List<Path> checkpointDirectories(Path jobDirectory) throws IOException {
        if (!Files.isDirectory(jobDirectory)) {
            return List.of();
        }
        try (Stream<Path> children = Files.list(jobDirectory)) {
            return children.filter(Files::isDirectory)
                    .filter(dir -> CHECKPOINT_DIRECTORY.matcher(name(dir)).matches())
                    .sorted(Comparator.comparingLong(RetainedCheckpoints::checkpointId))
                    .collect(Collectors.toList());
        }
    }

    /** The {@code chk-<id>} directories that hold a {@code _metadata} file, by id. */
    public static List<Path> retainedCheckpoints(Path jobDirectory) throws IOException {
        return checkpointDirectories(jobDirectory).stream()
                .filter(dir -> Files.isRegularFile(dir.resolve(METADATA_FILE)))
                .collect(Collectors.toList());
    }

    public static long checkpointId(Path checkpointDirectory) {
        final Matcher matcher = CHECKPOINT_DIRECTORY.matcher(name(checkpointDirectory));
        if (!matcher.matches()) {
            throw new IllegalArgumentException(
                    "Not a checkpoint directory: " + checkpointDirectory);
        }
        return Long.parseLong(matcher.group(1));
    }

    public static CheckpointMetadata loadMetadata(Path checkpointDirectory) throws IOException {
        try (DataInputStream in =
                new DataInputStream(
                        Files.newInputStream(checkpointDirectory.resolve(METADATA_FILE)))) {
            return Checkpoints.loadCheckpointMetadata(
                    in,
                    RetainedCheckpoints.class.getClassLoader(),
                    checkpointDirectory.toUri().toString());
        }
    }

    /**
     * Every regular file below {@code directory}; none if it does not exist. Files deleted while
     * the directory is listed are left out rather than failing the listing.
     */
    public static Set<Path> listFiles(Path directory) {
        final Set<Path> files = new TreeSet<>();
        addFiles(directory.toFile(), files);
        return files;
    }

    private static void addFiles(File directory, Set<Path> files) {
        final File[] children = directory.listFiles();
        if (children == null) {
            return;
        }
        for (File child : children) {
            if (child.isDirectory()) {
                addFiles(child, files);
            } else if (child.isFile()) {
                files.add(normalize(child.toPath()));
            }
        }
    }

    /**
     * The files in the job's {@code shared/} directory that none of its retained checkpoints refers
     * to, by a traversal of their handles.
     */
    public static Set<Path> unreferencedSharedFiles(Path jobDirectory) throws IOException {
        final Set<Path> unreferenced = listFiles(jobDirectory.resolve("shared"));
        for (Path checkpoint : retainedCheckpoints(jobDirectory)) {
            unreferenced.removeAll(referencedFiles(loadMetadata(checkpoint)).allFiles());
        }
        return unreferenced;
    }

    /**
     * Waits up to {@code timeout} for Flink to remove the directories of subsumed and aborted
     * checkpoints, which it does asynchronously after a job ended; the shared files of subsumed
     * checkpoints go with them. Returns whether it did.
     */
    public static boolean awaitOnlyRetainedCheckpoints(Path jobDirectory, Duration timeout)
            throws IOException, InterruptedException {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (!checkpointDirectories(jobDirectory).equals(retainedCheckpoints(jobDirectory))) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(10L);
        }
        return true;
    }

    /** The files a checkpoint's meta data refers to. */
    public static ReferencedFiles referencedFiles(CheckpointMetadata metadata) {
        final ReferencedFiles referenced = new ReferencedFiles();
        for (OperatorState operatorState : metadata.getOperatorStates()) {
            for (OperatorSubtaskState subtaskState : operatorState.getStates()) {
                addKeyed(subtaskState.getManagedKeyedState(), referenced);
                addKeyed(subtaskState.getRawKeyedState(), referenced);
                addOperator(subtaskState.getManagedOperatorState(), referenced);
                addOperator(subtaskState.getRawOperatorState(), referenced);
            }
            if (operatorState.getCoordinatorState() != null) {
                referenced.inlineHandles++;
            }
        }
        return referenced;
    }

    private static void addKeyed(
            Collection<? extends KeyedStateHandle> handles, ReferencedFiles referenced) {
        for (KeyedStateHandle handle : handles) {
            if (handle instanceof IncrementalRemoteKeyedStateHandle) {
                IncrementalRemoteKeyedStateHandle incremental =
                        (IncrementalRemoteKeyedStateHandle) handle;
                referenced.incrementalHandles++;
                referenced.sharedFilesPerHandle.add(incremental.getSharedState().size());
                for (HandleAndLocalPath shared : incremental.getSharedState()) {
                    referenced.add(shared.getHandle(), referenced.sharedFiles);
                }
                for (HandleAndLocalPath privateFile : incremental.getPrivateState()) {
                    referenced.add(privateFile.getHandle(), referenced.exclusiveFiles);
                }
                referenced.add(incremental.getMetaDataStateHandle(), referenced.exclusiveFiles);
            } else if (handle instanceof KeyGroupsStateHandle) {
                referenced.add(
                        ((KeyGroupsStateHandle) handle).getDelegateStateHandle(),
                        referenced.exclusiveFiles);
            } else {
                throw new IllegalStateException(
                        "Unexpected keyed state handle in a checkpoint of this backend: "
                                + handle.getClass().getName());
            }
        }
    }

    private static void addOperator(
            Collection<? extends OperatorStateHandle> handles, ReferencedFiles referenced) {
        for (OperatorStateHandle handle : handles) {
            referenced.add(handle.getDelegateStateHandle(), referenced.exclusiveFiles);
        }
    }

    private static String name(Path path) {
        return path.getFileName().toString();
    }

    private static Path normalize(Path path) {
        return path.toAbsolutePath().normalize();
    }

    /** Files referenced by one checkpoint: shared SST files and files of this checkpoint only. */
    public static final class ReferencedFiles {

        /** The shared state of the incremental keyed state handles. */
        public final Set<Path> sharedFiles = new TreeSet<>();

        /** Private files and meta data of keyed state handles, operator state. */
        public final Set<Path> exclusiveFiles = new TreeSet<>();

        /** Handles small enough to be stored in the {@code _metadata} file itself. */
        int inlineHandles;

        int incrementalHandles;

        /** For each incremental keyed state handle, the number of its shared files. */
        final List<Integer> sharedFilesPerHandle = new ArrayList<>();

        public Set<Path> allFiles() {
            final Set<Path> all = new TreeSet<>(sharedFiles);
            all.addAll(exclusiveFiles);
            return all;
        }

        private void add(StreamStateHandle handle, Set<Path> files) {
            if (handle instanceof FileStateHandle) {
                files.add(normalize(Paths.get(((FileStateHandle) handle).getFilePath().toUri())));
            } else if (handle instanceof ByteStreamStateHandle) {
                inlineHandles++;
            } else if (handle instanceof PlaceholderStreamStateHandle) {
                // a file uploaded by an earlier checkpoint; its id is the file's URI
                files.add(
                        normalize(
                                Paths.get(
                                        URI.create(
                                                handle.getStreamStateHandleID().getKeyString()))));
            } else {
                throw new IllegalStateException(
                        "Unexpected stream state handle: " + handle.getClass().getName());
            }
        }
    }
}
