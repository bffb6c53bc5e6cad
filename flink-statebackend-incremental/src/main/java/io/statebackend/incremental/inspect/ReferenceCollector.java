package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.Path;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.AbstractChannelStateHandle;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.OperatorStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filemerging.SegmentFileStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Collects what a checkpoint's meta data refers to: per operator its sizes and files, and the files
 * of all operators. Handles are Flink's types, whichever backend wrote them: incremental RocksDB
 * handles (this backend's and Flink's), key-group handles (heap backends, canonical savepoints,
 * full snapshots), operator state and in-flight channel state. A handle of any other type is
 * recorded as unknown, since what it refers to cannot be told.
 */
final class ReferenceCollector {

    CheckpointSummary collect(CheckpointDirectory directory, CheckpointMetadata metadata) {
        final Set<String> shared = new TreeSet<>();
        final Set<String> exclusive = new TreeSet<>();
        final List<String> unknown = new ArrayList<>();
        final List<OperatorSummary> operators = new ArrayList<>();
        for (OperatorState operator : metadata.getOperatorStates()) {
            final Counter counter = new Counter(shared, exclusive, unknown);
            int subtasksWithState = 0;
            for (OperatorSubtaskState subtask : operator.getStates()) {
                if (subtask.hasState()) {
                    subtasksWithState++;
                }
                counter.keyed(subtask.getManagedKeyedState());
                counter.keyed(subtask.getRawKeyedState());
                counter.operator(subtask.getManagedOperatorState());
                counter.operator(subtask.getRawOperatorState());
                for (AbstractChannelStateHandle<?> channel : subtask.getInputChannelState()) {
                    counter.stream(channel.getDelegate(), false);
                }
                for (AbstractChannelStateHandle<?> channel : subtask.getResultSubpartitionState()) {
                    counter.stream(channel.getDelegate(), false);
                }
            }
            if (operator.getCoordinatorState() != null) {
                counter.inline++;
            }
            operators.add(
                    new OperatorSummary(
                            operator.getOperatorID().toHexString(),
                            operator.getParallelism(),
                            subtasksWithState,
                            operator.getStateSize(),
                            operator.getCheckpointedSize(),
                            counter.sharedFiles,
                            counter.privateFiles,
                            counter.inline));
        }
        operators.sort(java.util.Comparator.comparing(OperatorSummary::getOperatorId));
        return new CheckpointSummary(
                directory, metadata.getCheckpointId(), operators, shared, exclusive, unknown);
    }

    /** Counts the files of one operator and adds them to the checkpoint's. */
    private static final class Counter {
        final Set<String> shared;
        final Set<String> exclusive;
        final List<String> unknown;
        int sharedFiles;
        int privateFiles;
        int inline;

        Counter(Set<String> shared, Set<String> exclusive, List<String> unknown) {
            this.shared = shared;
            this.exclusive = exclusive;
            this.unknown = unknown;
        }

        void keyed(Collection<KeyedStateHandle> handles) {
            for (KeyedStateHandle handle : handles) {
                if (handle instanceof IncrementalRemoteKeyedStateHandle) {
                    final IncrementalRemoteKeyedStateHandle incremental =
                            (IncrementalRemoteKeyedStateHandle) handle;
                    for (HandleAndLocalPath file : incremental.getSharedState()) {
                        stream(file.getHandle(), true);
                    }
                    for (HandleAndLocalPath file : incremental.getPrivateState()) {
                        stream(file.getHandle(), false);
                    }
                    stream(incremental.getMetaDataStateHandle(), false);
                } else if (handle instanceof KeyGroupsStateHandle) {
                    // also KeyGroupsSavepointStateHandle, of canonical savepoints
                    stream(((KeyGroupsStateHandle) handle).getDelegateStateHandle(), false);
                } else {
                    unknown.add(handle.getClass().getName());
                }
            }
        }

        void operator(Collection<OperatorStateHandle> handles) {
            for (OperatorStateHandle handle : handles) {
                stream(handle.getDelegateStateHandle(), false);
            }
        }

        void stream(StreamStateHandle handle, boolean isShared) {
            final Path path;
            if (handle instanceof FileStateHandle) {
                path = ((FileStateHandle) handle).getFilePath();
            } else if (handle instanceof SegmentFileStateHandle) {
                // file merging: many handles share one file
                path = ((SegmentFileStateHandle) handle).getFilePath();
            } else if (handle instanceof ByteStreamStateHandle) {
                inline++;
                return;
            } else if (handle instanceof PlaceholderStreamStateHandle) {
                // not in completed checkpoints (registration replaces them); its id is the file's
                path = new Path(handle.getStreamStateHandleID().getKeyString());
            } else {
                unknown.add(handle.getClass().getName());
                return;
            }
            if (isShared) {
                sharedFiles++;
                shared.add(FileKey.of(path));
            } else {
                privateFiles++;
                exclusive.add(FileKey.of(path));
            }
        }
    }
}
