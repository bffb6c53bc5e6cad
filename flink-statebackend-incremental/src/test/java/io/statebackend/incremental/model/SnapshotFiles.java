package io.statebackend.incremental.model;

import org.apache.flink.runtime.checkpoint.CompletedCheckpoint;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.OperatorStateHandle;
import org.apache.flink.runtime.state.StateObject;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Which files in checkpoint storage a snapshot consists of, from its state handles. */
final class SnapshotFiles {

    private SnapshotFiles() {}

    /** Every file the checkpoint or savepoint refers to, its metadata file included. */
    static Set<Path> of(CompletedCheckpoint checkpoint) {
        Set<Path> files = new TreeSet<>();
        addStream(checkpoint.getMetadataHandle(), files);
        for (OperatorState operatorState : checkpoint.getOperatorStates().values()) {
            for (OperatorSubtaskState subtaskState : operatorState.getStates()) {
                addSubtask(subtaskState, files);
            }
        }
        return files;
    }

    private static void addSubtask(OperatorSubtaskState subtaskState, Set<Path> files) {
        addAll(subtaskState.getManagedKeyedState(), files);
        addAll(subtaskState.getRawKeyedState(), files);
        addAll(subtaskState.getManagedOperatorState(), files);
        addAll(subtaskState.getRawOperatorState(), files);
    }

    private static void addAll(Collection<? extends StateObject> handles, Set<Path> files) {
        for (StateObject handle : handles) {
            add(handle, files);
        }
    }

    private static void add(StateObject handle, Set<Path> files) {
        if (handle instanceof IncrementalRemoteKeyedStateHandle) {
            IncrementalRemoteKeyedStateHandle incremental =
                    (IncrementalRemoteKeyedStateHandle) handle;
            for (HandleAndLocalPath file : incremental.getSharedState()) {
                addStream(file.getHandle(), files);
            }
            for (HandleAndLocalPath file : incremental.getPrivateState()) {
                addStream(file.getHandle(), files);
            }
            addStream(incremental.getMetaDataStateHandle(), files);
        } else if (handle instanceof KeyGroupsStateHandle) {
            addStream(((KeyGroupsStateHandle) handle).getDelegateStateHandle(), files);
        } else if (handle instanceof OperatorStateHandle) {
            addStream(((OperatorStateHandle) handle).getDelegateStateHandle(), files);
        } else if (handle instanceof StreamStateHandle) {
            addStream((StreamStateHandle) handle, files);
        } else if (handle instanceof KeyedStateHandle) {
            throw new IllegalArgumentException("Unexpected state handle " + handle);
        }
    }

    private static void addStream(StreamStateHandle handle, Set<Path> files) {
        if (handle instanceof FileStateHandle) {
            files.add(toPath((FileStateHandle) handle));
        }
    }

    static Path toPath(FileStateHandle handle) {
        return Paths.get(handle.getFilePath().toUri()).toAbsolutePath().normalize();
    }

    /** All regular files below {@code root}, or none if it does not exist. */
    static List<Path> filesBelow(Path root) throws IOException {
        if (!Files.exists(root)) {
            return new ArrayList<>();
        }
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(Files::isRegularFile)
                    .map(p -> p.toAbsolutePath().normalize())
                    .sorted()
                    .collect(Collectors.toList());
        }
    }
}
