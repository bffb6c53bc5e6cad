package io.statebackend.incremental.itcase;

import io.statebackend.incremental.itcase.IncrementalTestJobs.LatestPayload;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.checkpoint.AbstractCheckpointStats;
import org.apache.flink.runtime.checkpoint.CompletedCheckpointStats;
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
 * the keys are loaded, so the whole load reaches the first checkpoint's flush in one memtable
 * (about 13 MB, below the slot's write buffer budget) and becomes one level-0 SST file per backend;
 * each round adds one more. RocksDB compacts level 0 into level 1 when it holds four files, and
 * such a compaction rewrites the whole state (level 1 is a single file of a few MB), so the next
 * checkpoint would rightly upload it all. The fourth level-0 file is flushed by the third round's
 * checkpoint, which links its files right after the flush, before the compaction it triggers has
 * written anything; {@value #ROUNDS} rounds are therefore the most this test can assert on without
 * measuring compactions instead of incremental checkpoints.
 */
// a safety net so that a hang in the backend fails this class instead of the whole build
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IncrementalCheckpointSizeITCase {

    private static final int NUM_KEYS = 100_000;
    private static final int UPDATES_PER_ROUND = 1_000;
    private static final int ROUNDS = 3;
    private static final double MAX_INCREMENTAL_RATIO = 0.10;
    private static final int KEYED_PARALLELISM = 2;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(KEYED_PARALLELISM)
                            .build());

    @TempDir static Path checkpointsBase;

    @BeforeEach
    void resetCoordination() {
        IncrementalTestJobs.reset();
    }

    @Test
    void checkpointsUploadOnlyWhatChanged(@InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(
                        IncrementalTestJobs.triggeredCheckpoints(checkpointsBase));
        IncrementalTestJobs.gatedSequence(env, Long.MAX_VALUE)
                .keyBy(new LoadThenUpdate(), Types.INT)
                .process(new LatestPayload())
                .uid("latest-payload")
                .setParallelism(KEYED_PARALLELISM)
                .sinkTo(new DiscardingSink<>())
                .setParallelism(KEYED_PARALLELISM);
        final JobID jobId = IncrementalTestJobs.submit(miniCluster, env);

        SequenceGate.allowUpTo(NUM_KEYS);
        SequenceGate.awaitPosition(NUM_KEYS);
        final long fullStateCheckpoint =
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
                    stats.putAll(completedCheckpointStats(miniCluster, jobId));
                    return stats.containsKey(fullStateCheckpoint)
                            && stats.keySet().containsAll(roundCheckpoints);
                },
                () -> "the statistics of checkpoints " + roundCheckpoints + ", have " + stats);
        IncrementalTestJobs.cancelAndWait(miniCluster, jobId);

        for (CompletedCheckpointStats checkpoint : stats.values()) {
            System.out.printf(
                    "%s: checkpoint %d%s: state size %d bytes, checkpointed size %d bytes,"
                            + " ratio %.4f%n",
                    getClass().getSimpleName(),
                    checkpoint.getCheckpointId(),
                    checkpoint.getCheckpointId() == fullStateCheckpoint ? " (full state)" : "",
                    checkpoint.getStateSize(),
                    checkpoint.getCheckpointedSize(),
                    ratio(checkpoint));
        }

        final CompletedCheckpointStats full = stats.get(fullStateCheckpoint);
        assertThat(full.getStateSize())
                .as("state size of the checkpoint holding all keys")
                .isGreaterThanOrEqualTo((long) NUM_KEYS * IncrementalTestJobs.PAYLOAD_BYTES);
        assertThat(ratio(full))
                .as("the first checkpoint uploads the whole state")
                .isGreaterThanOrEqualTo(0.9);
        for (long checkpointId : roundCheckpoints) {
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
                    .isLessThanOrEqualTo(MAX_INCREMENTAL_RATIO);
        }
    }

    private static Map<Long, CompletedCheckpointStats> completedCheckpointStats(
            MiniCluster miniCluster, JobID jobId) {
        final Map<Long, CompletedCheckpointStats> completed = new TreeMap<>();
        try {
            for (AbstractCheckpointStats checkpoint :
                    miniCluster
                            .getExecutionGraph(jobId)
                            .get()
                            .getCheckpointStatsSnapshot()
                            .getHistory()
                            .getCheckpoints()) {
                if (checkpoint instanceof CompletedCheckpointStats) {
                    completed.put(
                            checkpoint.getCheckpointId(), (CompletedCheckpointStats) checkpoint);
                }
            }
        } catch (Exception e) {
            throw new RuntimeException("Could not read the checkpoint statistics", e);
        }
        return completed;
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
