package io.statebackend.incremental.e2e;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.plugin.PluginUtils;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.CompletedCheckpointStorageLocation;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.filesystem.AbstractFsCheckpointStorageAccess;

import java.io.DataInputStream;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Prints which kinds of keyed state handle a checkpoint or savepoint holds, read from its {@code
 * _metadata} the way the JobManager reads it: {@code KeyGroupsStateHandle} (a full checkpoint in
 * the canonical stream), {@code KeyGroupsSavepointStateHandle} (a canonical savepoint), {@code
 * IncrementalRemoteKeyedStateHandle} (RocksDB files: an incremental checkpoint or a native
 * savepoint). Runs on the class path of the cluster's lib/ plus the job jar; file systems other
 * than the local one (s3://) come from the cluster's plugins/ ({@code FLINK_PLUGINS_DIR}),
 * configured by its config.yaml ({@code FLINK_CONF_DIR}), as in the JobManager.
 *
 * <p>Usage: {@code SnapshotInspector <checkpoint or savepoint path, as the REST API gives it>};
 * prints one line such as {@code IncrementalRemoteKeyedStateHandle x2 (shared files 8, private
 * files 6)}.
 */
public final class SnapshotInspector {

    private SnapshotInspector() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("Usage: SnapshotInspector <snapshot path>");
        }
        final String confDir = System.getenv("FLINK_CONF_DIR");
        final Configuration config =
                confDir == null
                        ? new Configuration()
                        : GlobalConfiguration.loadConfiguration(confDir);
        FileSystem.initialize(config, PluginUtils.createPluginManagerFromRootFolder(config));
        final CompletedCheckpointStorageLocation location =
                AbstractFsCheckpointStorageAccess.resolveCheckpointPointer(args[0]);
        final CheckpointMetadata metadata;
        try (DataInputStream in =
                new DataInputStream(location.getMetadataHandle().openInputStream())) {
            metadata =
                    Checkpoints.loadCheckpointMetadata(
                            in,
                            SnapshotInspector.class.getClassLoader(),
                            location.getExternalPointer());
        }

        final Map<String, Integer> handleCounts = new TreeMap<>();
        int sharedFiles = 0;
        int privateFiles = 0;
        boolean incremental = false;
        for (OperatorState operatorState : metadata.getOperatorStates()) {
            for (OperatorSubtaskState subtaskState : operatorState.getStates()) {
                for (KeyedStateHandle handle : subtaskState.getManagedKeyedState()) {
                    handleCounts.merge(handle.getClass().getSimpleName(), 1, Integer::sum);
                    if (handle instanceof IncrementalRemoteKeyedStateHandle) {
                        final IncrementalRemoteKeyedStateHandle files =
                                (IncrementalRemoteKeyedStateHandle) handle;
                        incremental = true;
                        sharedFiles += files.getSharedState().size();
                        privateFiles += files.getPrivateState().size();
                    }
                }
            }
        }

        final StringBuilder line = new StringBuilder();
        for (Map.Entry<String, Integer> entry : handleCounts.entrySet()) {
            if (line.length() > 0) {
                line.append(", ");
            }
            line.append(entry.getKey()).append(" x").append(entry.getValue());
        }
        if (incremental) {
            line.append(" (shared files ")
                    .append(sharedFiles)
                    .append(", private files ")
                    .append(privateFiles)
                    .append(')');
        }
        System.out.println(line.length() == 0 ? "no keyed state" : line.toString());
    }
}
