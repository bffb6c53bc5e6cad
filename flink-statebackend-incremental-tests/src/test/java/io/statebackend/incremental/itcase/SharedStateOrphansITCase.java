package io.statebackend.incremental.itcase;

import io.statebackend.incremental.itcase.IncrementalTestJobs.LatestPayload;
import io.statebackend.incremental.itcase.IncrementalTestJobs.ModuloKey;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;
import io.statebackend.incremental.itcase.RetainedCheckpoints.ReferencedFiles;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * After a job on this backend took {@value #CHECKPOINTS} incremental checkpoints with steady
 * updates, retaining one, and was cancelled, every file in the job's {@code shared/} directory is
 * referenced by the retained checkpoint, and every file the checkpoint refers to exists.
 *
 * <p>Each checkpoint flushes the updates since the previous one into a new level-0 SST file of each
 * backend; RocksDB compacts four of them into level 1, so the shared files of earlier checkpoints
 * are replaced and must be deleted once no retained checkpoint refers to them. The test triggers
 * the checkpoints itself, each after the source emitted its round of updates, so that none is in
 * flight when the job is cancelled: the shared files a checkpoint aborted by the cancellation
 * registered are Flink's to leave behind, not this backend's.
 */
// a safety net so that a hang in the backend fails this class instead of the whole build
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SharedStateOrphansITCase {

    private static final int CHECKPOINTS = 10;
    private static final int NUM_KEYS = 5_000;
    private static final int UPDATES_PER_CHECKPOINT = 4_000;
    private static final int KEYED_PARALLELISM = 2;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(KEYED_PARALLELISM)
                            .setConfiguration(clusterConfiguration())
                            .build());

    @TempDir static Path checkpointsBase;

    /** The job master reads the number of retained checkpoints from the cluster's configuration. */
    private static Configuration clusterConfiguration() {
        final Configuration config = new Configuration();
        config.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, 1);
        return config;
    }

    @BeforeEach
    void resetCoordination() {
        IncrementalTestJobs.reset();
    }

    @Test
    void sharedDirectoryHoldsOnlyFilesOfTheRetainedCheckpoint(
            @InjectMiniCluster MiniCluster miniCluster) throws Exception {
        final Configuration config = IncrementalTestJobs.triggeredCheckpoints(checkpointsBase);
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        IncrementalTestJobs.gatedSequence(env, Long.MAX_VALUE)
                .keyBy(new ModuloKey(NUM_KEYS), Types.INT)
                .process(new LatestPayload())
                .uid("latest-payload")
                .setParallelism(KEYED_PARALLELISM)
                .sinkTo(new DiscardingSink<>())
                .setParallelism(KEYED_PARALLELISM);

        final JobID jobId = IncrementalTestJobs.submit(miniCluster, env);
        final Path jobDirectory = RetainedCheckpoints.jobDirectory(checkpointsBase, jobId);
        final Path sharedDirectory = jobDirectory.resolve("shared");

        final List<Long> checkpointIds = new ArrayList<>();
        final Set<Path> everShared = new TreeSet<>();
        for (int round = 1; round <= CHECKPOINTS; round++) {
            final long emitted = (long) round * UPDATES_PER_CHECKPOINT;
            SequenceGate.allowUpTo(emitted);
            SequenceGate.awaitPosition(emitted);
            checkpointIds.add(
                    IncrementalTestJobs.checkpoint(miniCluster, jobId, KEYED_PARALLELISM));
            everShared.addAll(RetainedCheckpoints.listFiles(sharedDirectory));
        }
        final long lastCheckpoint = checkpointIds.get(checkpointIds.size() - 1);
        IncrementalTestJobs.cancelAndWait(miniCluster, jobId);

        final List<Path> retained = RetainedCheckpoints.retainedCheckpoints(jobDirectory);
        // subsumed checkpoints may still be being deleted: only the newest counts here, the
        // others must be gone below
        assertThat(retained).as("checkpoints retained in %s", jobDirectory).isNotEmpty();
        final Path retainedCheckpoint = retained.get(retained.size() - 1);
        assertThat(RetainedCheckpoints.checkpointId(retainedCheckpoint)).isEqualTo(lastCheckpoint);
        final ReferencedFiles referenced =
                RetainedCheckpoints.referencedFiles(
                        RetainedCheckpoints.loadMetadata(retainedCheckpoint));
        assertThat(referenced.incrementalHandles).isEqualTo(KEYED_PARALLELISM);

        // the registry deletes the files of subsumed checkpoints asynchronously, and the
        // checkpoint directories of subsumed checkpoints are removed by the checkpoints cleaner
        final Set<Path> orphans = new TreeSet<>();
        final List<Path> staleCheckpointDirectories = new ArrayList<>();
        try {
            IncrementalTestJobs.waitUntil(
                    () -> {
                        orphans.clear();
                        staleCheckpointDirectories.clear();
                        try {
                            orphans.addAll(RetainedCheckpoints.listFiles(sharedDirectory));
                            for (Path dir :
                                    RetainedCheckpoints.checkpointDirectories(jobDirectory)) {
                                if (!dir.equals(retainedCheckpoint)) {
                                    staleCheckpointDirectories.add(dir);
                                }
                            }
                        } catch (Exception e) {
                            throw new RuntimeException(e);
                        }
                        orphans.removeAll(referenced.sharedFiles);
                        return orphans.isEmpty() && staleCheckpointDirectories.isEmpty();
                    },
                    () -> "the unreferenced files of subsumed checkpoints to be deleted");
        } catch (TimeoutException e) {
            // reported by the assertions below, with the files
        }

        final Set<Path> inShared = RetainedCheckpoints.listFiles(sharedDirectory);
        final Set<Path> deleted = new TreeSet<>(everShared);
        deleted.removeAll(inShared);
        System.out.printf(
                "%s: %d checkpoints %s, retained %s; shared/ holds %d files, the retained"
                        + " checkpoint references %d shared and %d exclusive files (%d inline"
                        + " handles); %d shared files were uploaded and deleted again during the"
                        + " run; orphans in shared/: %d %s; stale checkpoint directories: %s%n",
                getClass().getSimpleName(),
                checkpointIds.size(),
                checkpointIds,
                retainedCheckpoint.getFileName(),
                inShared.size(),
                referenced.sharedFiles.size(),
                referenced.exclusiveFiles.size(),
                referenced.inlineHandles,
                deleted.size(),
                orphans.size(),
                orphans,
                staleCheckpointDirectories);

        assertThat(referenced.allFiles())
                .as("files the retained checkpoint refers to")
                .allSatisfy(file -> assertThat(file).isRegularFile());
        assertThat(orphans).as("files in %s no checkpoint refers to", sharedDirectory).isEmpty();
        assertThat(staleCheckpointDirectories).as("directories of subsumed checkpoints").isEmpty();
        // RocksDB compacted level-0 files into level 1, and the files they replaced were deleted;
        // without that this test would not have checked anything
        assertThat(deleted).as("shared files replaced by compactions and deleted").isNotEmpty();
    }
}
