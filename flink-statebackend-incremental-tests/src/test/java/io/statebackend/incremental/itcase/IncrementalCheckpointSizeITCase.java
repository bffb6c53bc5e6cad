package io.statebackend.incremental.itcase;

import io.statebackend.incremental.itcase.IncrementalTestJobs.LatestPayload;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
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
import org.apache.flink.util.FileUtils;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With {@value #NUM_KEYS} keys of {@value IncrementalTestJobs#PAYLOAD_BYTES}-byte values in state
 * and {@value #UPDATES_PER_ROUND} of them (1%) updated between checkpoints, an incremental
 * checkpoint uploads only a small part of the state: after the first checkpoint, which holds all
 * keys and uploads everything, every checkpoint's checkpointed size (bytes uploaded, as the
 * checkpoint statistics report it) is at most {@value #MAX_INCREMENTAL_RATIO} of its state size.
 *
 * <p>The source first emits all keys and waits; the test triggers the first checkpoint, then lets
 * the source emit one round of updates before each further checkpoint. No checkpoint is taken while
 * the keys are loaded, and the slots get enough managed memory for one memtable to hold a backend's
 * half of the load (about 6 MB; the backend sizes memtables at an eighth of the slot's share), so
 * the first checkpoint's flush turns the load into one level-0 SST file per backend, and each round
 * adds one more.
 *
 * <p>RocksDB compacts level 0 into level 1 when it holds four files, and that compaction rewrites
 * the whole state (the loaded keys and the updates overlap everywhere, and level 1 is a single file
 * of a few MB): the checkpoint after it rightly uploads everything, which says nothing about
 * incremental checkpoints. The fourth level-0 file would be flushed by the third round's
 * checkpoint, which would then race with the compaction it triggers. The test therefore stops after
 * {@value #ROUNDS} rounds, the most that leave level 0 below the compaction trigger.
 */
// a safety net so that a hang in the backend fails this class instead of the whole build
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IncrementalCheckpointSizeITCase {

    private static final int NUM_KEYS = 100_000;
    private static final int UPDATES_PER_ROUND = 1_000;
    private static final int ROUNDS = 2;
    private static final double MAX_INCREMENTAL_RATIO = 0.10;
    private static final int KEYED_PARALLELISM = 2;

    /** The changelog storage of the changelog test; a cluster setting. */
    private static final Path CHANGELOG_STORAGE =
            IncrementalTestJobs.temporaryDirectory("checkpoint-size-changelog-");

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
        // 256 MB per slot: 32 MB memtables; reserved for RocksDB, not allocated up front
        config.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.ofMebiBytes(512));
        return IncrementalTestJobs.withChangelogStorage(config, CHANGELOG_STORAGE);
    }

    @AfterAll
    static void deleteChangelogStorage() throws IOException {
        FileUtils.deleteDirectory(CHANGELOG_STORAGE.toFile());
    }

    @BeforeEach
    void resetCoordination() {
        IncrementalTestJobs.reset();
    }

    @Test
    void checkpointsUploadOnlyWhatChanged(@InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final Configuration config = IncrementalTestJobs.triggeredCheckpoints(checkpointsBase);
        final Checkpoints checkpoints = loadAndUpdate(miniCluster, config, ROUNDS);
        final List<Path> retained =
                RetainedCheckpoints.retainedCheckpoints(
                        RetainedCheckpoints.jobDirectory(checkpointsBase, checkpoints.jobId));
        assertThat(retained).isNotEmpty();
        final Path lastCheckpoint = retained.get(retained.size() - 1);
        System.out.printf(
                "%s: %s refers to %s SST files per backend (one per flush unless compacted)%n",
                getClass().getSimpleName(),
                lastCheckpoint.getFileName(),
                RetainedCheckpoints.referencedFiles(
                                RetainedCheckpoints.loadMetadata(lastCheckpoint))
                        .sharedFilesPerHandle);

        final CompletedCheckpointStats full = checkpoints.stats.get(checkpoints.load);
        assertThat(full.getStateSize())
                .as("state size of the checkpoint holding all keys")
                .isGreaterThanOrEqualTo((long) NUM_KEYS * IncrementalTestJobs.PAYLOAD_BYTES);
        assertThat(ratio(full))
                .as("the first checkpoint uploads the whole state")
                .isGreaterThanOrEqualTo(0.9);
        checkpoints.assertRoundsUploadedAtMost(MAX_INCREMENTAL_RATIO);
    }

    /**
     * The same job with Flink's changelog backend (FLIP-158, {@code
     * state.backend.changelog.enabled}) wrapping this backend and a file system changelog storage:
     * the checkpoints after the load upload only the logged changes, and a new job restores from
     * the last one. The wrapped backend is also materialized (an incremental checkpoint of this
     * backend, taken in the background at Flink's default interval, the first one after a delay
     * below the interval that Flink derives from the subtask); it uploads in the background, and
     * Flink counts its bytes in no checkpoint's checkpointed size.
     */
    @Test
    void changelogBackendWrapsThisBackend(@InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final Path base = checkpointsBase.resolve("changelog-job");
        final Configuration config = IncrementalTestJobs.triggeredCheckpoints(base);
        config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, true);
        final int rounds = 4;
        final Checkpoints checkpoints = loadAndUpdate(miniCluster, config, rounds);

        assertThat(IncrementalTestJobs.countFiles(CHANGELOG_STORAGE))
                .as("files in the changelog storage %s", CHANGELOG_STORAGE)
                .isPositive();
        checkpoints.assertRoundsUploadedAtMost(MAX_INCREMENTAL_RATIO);

        final List<Path> retained =
                RetainedCheckpoints.retainedCheckpoints(
                        RetainedCheckpoints.jobDirectory(base, checkpoints.jobId));
        assertThat(retained).isNotEmpty();
        final Path last = retained.get(retained.size() - 1);
        IncrementalTestJobs.reset();
        final JobID restored =
                IncrementalTestJobs.submit(
                        miniCluster,
                        job(config),
                        SavepointRestoreSettings.forPath(last.toUri().toString()));
        IncrementalTestJobs.waitUntil(
                () -> !SequenceGate.restoredFrom().isEmpty(),
                () -> "the restored job's source to start from " + last);
        assertThat(SequenceGate.restoredFrom())
                .containsOnly(RetainedCheckpoints.checkpointId(last));
        assertThat(SequenceGate.position())
                .as("position of the restored source")
                .isEqualTo(NUM_KEYS + (long) rounds * UPDATES_PER_ROUND);
        IncrementalTestJobs.cancelAndWait(miniCluster, restored);
    }

    /** The checkpoints of one run of the job, with their statistics. */
    private static final class Checkpoints {
        final JobID jobId;
        final long load;
        final List<Long> rounds;
        final Map<Long, CompletedCheckpointStats> stats;

        Checkpoints(
                JobID jobId,
                long load,
                List<Long> rounds,
                Map<Long, CompletedCheckpointStats> stats) {
            this.jobId = jobId;
            this.load = load;
            this.rounds = rounds;
            this.stats = stats;
        }

        void assertRoundsUploadedAtMost(double maxRatio) {
            for (long checkpointId : rounds) {
                final CompletedCheckpointStats checkpoint = stats.get(checkpointId);
                assertThat(checkpoint.getCheckpointedSize())
                        .as("checkpointed size of checkpoint %s", checkpointId)
                        .isPositive();
                assertThat(ratio(checkpoint))
                        .as(
                                "checkpointed size / state size of checkpoint %s (%s of %s bytes)",
                                checkpointId,
                                checkpoint.getCheckpointedSize(),
                                checkpoint.getStateSize())
                        .isLessThanOrEqualTo(maxRatio);
            }
        }
    }

    /**
     * Runs the job: loads all keys, checkpoints, then {@code rounds} times updates 1% of the keys
     * and checkpoints; cancels it (its checkpoints are retained) and prints every checkpoint's
     * state and checkpointed size.
     */
    private Checkpoints loadAndUpdate(MiniCluster miniCluster, Configuration config, int rounds)
            throws Exception {
        // kept for the report of SST files and for restores
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        final JobID jobId = IncrementalTestJobs.submit(miniCluster, job(config));

        SequenceGate.allowUpTo(NUM_KEYS);
        SequenceGate.awaitPosition(NUM_KEYS);
        final long load = IncrementalTestJobs.checkpoint(miniCluster, jobId, KEYED_PARALLELISM);
        final List<Long> roundCheckpoints = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
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
                    return stats.containsKey(load) && stats.keySet().containsAll(roundCheckpoints);
                },
                () -> "the statistics of checkpoints " + roundCheckpoints + ", have " + stats);
        IncrementalTestJobs.cancelAndWait(miniCluster, jobId);
        for (CompletedCheckpointStats checkpoint : stats.values()) {
            System.out.printf(
                    "%s: checkpoint %d%s: state size %d bytes, checkpointed size %d bytes,"
                            + " ratio %.4f%n",
                    getClass().getSimpleName(),
                    checkpoint.getCheckpointId(),
                    checkpoint.getCheckpointId() == load ? " (full state)" : "",
                    checkpoint.getStateSize(),
                    checkpoint.getCheckpointedSize(),
                    ratio(checkpoint));
        }
        return new Checkpoints(jobId, load, roundCheckpoints, stats);
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

    private static double ratio(CompletedCheckpointStats checkpoint) {
        return (double) checkpoint.getCheckpointedSize() / checkpoint.getStateSize();
    }

    /**
     * Records {@code 0 .. NUM_KEYS - 1} load one key each; round {@code r} (from 0) then updates
     * the keys {@code r, r + 100, r + 200, ...}: 1% of the keys, spread over all key groups.
     */
    private static final class LoadThenUpdate implements KeySelector<Long, Integer> {

        private static final long serialVersionUID = 1L;

        @Override
        public Integer getKey(Long index) {
            if (index < NUM_KEYS) {
                return (int) (long) index;
            }
            final long update = index - NUM_KEYS;
            final int round = (int) (update / UPDATES_PER_ROUND);
            final int inRound = (int) (update % UPDATES_PER_ROUND);
            return inRound * (NUM_KEYS / UPDATES_PER_ROUND) + round;
        }
    }
}
