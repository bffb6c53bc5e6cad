package io.statebackend.incremental.itcase;

import io.statebackend.incremental.itcase.IncrementalCheckpointSizeITCase.LoadThenUpdate;
import io.statebackend.incremental.itcase.IncrementalTestJobs.LatestPayload;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateChangelogOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.checkpoint.CompletedCheckpointStats;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Flink's changelog backend (FLIP-158, {@code state.backend.changelog.enabled}) wrapping this
 * backend: the job of {@link IncrementalCheckpointSizeITCase} (100,000 keys loaded, then rounds of
 * 1% of them updated, a checkpoint after each) runs with the changes logged to a file system
 * changelog storage. The checkpoints after the load upload only the logged changes; the test prints
 * every checkpoint's state and checkpointed size, then restores a new job from the last retained
 * checkpoint and checks that it starts from it.
 *
 * <p>The wrapped backend is materialized (an incremental checkpoint of this backend) only every ten
 * minutes by default, so no materialization happens during the test: the sizes are those of the
 * changelog alone.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ChangelogCheckpointSizeITCase {

    private static final int NUM_KEYS = IncrementalCheckpointSizeITCase.NUM_KEYS;
    private static final int UPDATES_PER_ROUND = IncrementalCheckpointSizeITCase.UPDATES_PER_ROUND;
    private static final int ROUNDS = 4;
    private static final double MAX_ROUND_RATIO = 0.10;
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

    private static Configuration clusterConfiguration() {
        final Configuration config = new Configuration();
        config.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.ofMebiBytes(512));
        return config;
    }

    @BeforeEach
    void resetCoordination() {
        IncrementalTestJobs.reset();
    }

    @Test
    void changelogWrapsThisBackendAndRestores(@InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final Path changelogDir = checkpointsBase.resolve("changelog");
        final Configuration config = IncrementalTestJobs.triggeredCheckpoints(checkpointsBase);
        config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, true);
        config.setString("state.changelog.storage", "filesystem");
        config.setString("dstl.dfs.base-path", changelogDir.toUri().toString());
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);

        final JobID jobId = IncrementalTestJobs.submit(miniCluster, job(config));
        SequenceGate.allowUpTo(NUM_KEYS);
        SequenceGate.awaitPosition(NUM_KEYS);
        final long loadCheckpoint =
                IncrementalTestJobs.checkpoint(miniCluster, jobId, KEYED_PARALLELISM);
        final List<Long> roundCheckpoints = new ArrayList<>();
        for (int round = 1; round <= ROUNDS; round++) {
            final long emitted = NUM_KEYS + (long) round * UPDATES_PER_ROUND;
            SequenceGate.allowUpTo(emitted);
            SequenceGate.awaitPosition(emitted);
            roundCheckpoints.add(
                    IncrementalTestJobs.checkpoint(miniCluster, jobId, KEYED_PARALLELISM));
        }
        final Map<Long, CompletedCheckpointStats> stats = new TreeMap<>();
        IncrementalTestJobs.waitUntil(
                () -> {
                    stats.clear();
                    stats.putAll(IncrementalTestJobs.completedCheckpointStats(miniCluster, jobId));
                    return stats.keySet().containsAll(roundCheckpoints);
                },
                () -> "the statistics of checkpoints " + roundCheckpoints + ", have " + stats);
        IncrementalTestJobs.cancelAndWait(miniCluster, jobId);

        for (CompletedCheckpointStats checkpoint : stats.values()) {
            System.out.printf(
                    "%s: checkpoint %d%s: state size %d bytes, checkpointed size %d bytes%n",
                    getClass().getSimpleName(),
                    checkpoint.getCheckpointId(),
                    checkpoint.getCheckpointId() == loadCheckpoint ? " (load)" : "",
                    checkpoint.getStateSize(),
                    checkpoint.getCheckpointedSize());
        }
        try (Stream<Path> files = Files.walk(changelogDir)) {
            assertThat(files.filter(Files::isRegularFile).count())
                    .as("state changes written to the changelog storage")
                    .isPositive();
        }
        for (long checkpointId : roundCheckpoints) {
            final CompletedCheckpointStats checkpoint = stats.get(checkpointId);
            assertThat(checkpoint.getCheckpointedSize())
                    .as("checkpointed size of checkpoint %s", checkpointId)
                    .isPositive()
                    .isLessThanOrEqualTo((long) (MAX_ROUND_RATIO * checkpoint.getStateSize()));
        }

        // a new job from the last retained checkpoint: it must be restored from it
        final List<Path> retained =
                RetainedCheckpoints.retainedCheckpoints(
                        RetainedCheckpoints.jobDirectory(checkpointsBase, jobId));
        assertThat(retained).isNotEmpty();
        IncrementalTestJobs.reset();
        final JobID restoredJob =
                IncrementalTestJobs.submit(
                        miniCluster,
                        job(config),
                        SavepointRestoreSettings.forPath(
                                retained.get(retained.size() - 1).toUri().toString()));
        IncrementalTestJobs.waitUntil(
                () -> !SequenceGate.restoredFrom().isEmpty(),
                () -> "the restored job's source to start from the checkpoint");
        final Path lastRetained = retained.get(retained.size() - 1);
        assertThat(SequenceGate.restoredFrom())
                .as("checkpoint the restored source starts from")
                .containsOnly(RetainedCheckpoints.checkpointId(lastRetained));
        assertThat(SequenceGate.position())
                .as("position of the restored source")
                .isEqualTo(NUM_KEYS + (long) ROUNDS * UPDATES_PER_ROUND);
        IncrementalTestJobs.cancelAndWait(miniCluster, restoredJob);
    }

    private static StreamExecutionEnvironment job(Configuration config) {
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        IncrementalTestJobs.gatedSequence(env, Long.MAX_VALUE)
                .keyBy(new LoadThenUpdate(), Types.INT)
                .process(new LatestPayload())
                .uid("latest-payload")
                .setParallelism(KEYED_PARALLELISM)
                .sinkTo(new DiscardingSink<>())
                .setParallelism(KEYED_PARALLELISM);
        return env;
    }
}
