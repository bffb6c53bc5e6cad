package io.statebackend.incremental.itcase;

import io.statebackend.incremental.itcase.IncrementalTestJobs.LastResultPerKeySink;
import io.statebackend.incremental.itcase.IncrementalTestJobs.ModuloKey;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceListener;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SumListMap;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.checkpoint.CheckpointStatsSnapshot;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A keyed job with value, list and map state on this backend, checkpointing incrementally, fails
 * {@value #FAILURES} times and must end with exactly the state it would have had without failures.
 *
 * <p>The input is cut into {@value #FAILURES} + 1 segments. The source stops at the end of each
 * segment until a checkpoint taken there has completed; the map chained to the source then throws
 * on the next record. Every restore therefore starts from a checkpoint at the end of a segment,
 * taken incrementally after the previous restore, with the state of all earlier segments in the
 * keyed backends and the rest of the input still to come.
 */
// a safety net so that a hang in the backend fails this class instead of the whole build
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ExactlyOnceIncrementalITCase {

    private static final int FAILURES = 5;
    private static final int NUM_KEYS = 1_000;
    private static final int VALUES_PER_KEY = 24;
    private static final long NUM_RECORDS = (long) NUM_KEYS * VALUES_PER_KEY;
    private static final int KEYED_PARALLELISM = 2;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(KEYED_PARALLELISM)
                            .build());

    @TempDir static Path checkpointsRoot;

    /** Failures thrown so far; the next one is thrown at the end of segment {@code FAILURES}. */
    private static final AtomicInteger FAILURES_THROWN = new AtomicInteger();

    /** For each failure, the checkpoint at the end of its segment that allowed it. */
    private static final List<Long> CHECKPOINTS_BEFORE_FAILURES = new CopyOnWriteArrayList<>();

    @BeforeEach
    void resetCoordination() {
        IncrementalTestJobs.reset();
        FAILURES_THROWN.set(0);
        CHECKPOINTS_BEFORE_FAILURES.clear();
    }

    @Test
    void exactStateThroughRepeatedFailures(@InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final Configuration config =
                IncrementalTestJobs.incrementalCheckpoints(
                        checkpointsRoot.resolve("exactly-once"), Duration.ofMillis(100));
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, FAILURES);
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ZERO);

        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        IncrementalTestJobs.gatedSequence(env, NUM_RECORDS)
                .keyBy(new ModuloKey(NUM_KEYS), Types.INT)
                .process(new SumListMap(NUM_RECORDS - NUM_KEYS))
                .uid("sum-list-map")
                .setParallelism(KEYED_PARALLELISM)
                .sinkTo(new LastResultPerKeySink())
                .uid("last-result-per-key")
                .setParallelism(KEYED_PARALLELISM);

        SequenceGate.setListener(new FailAtSegmentEnds());
        SequenceGate.allowUpTo(segmentEnd(0));
        final JobID jobId = IncrementalTestJobs.submit(miniCluster, env);
        IncrementalTestJobs.awaitSuccess(miniCluster, jobId);

        final CheckpointStatsSnapshot stats =
                miniCluster.getExecutionGraph(jobId).get().getCheckpointStatsSnapshot();
        System.out.printf(
                "%s: %d failures, completed checkpoints %d, restored %d times, from %s;"
                        + " checkpoints before the failures %s%n",
                getClass().getSimpleName(),
                FAILURES_THROWN.get(),
                stats.getCounts().getNumberOfCompletedCheckpoints(),
                stats.getCounts().getNumberOfRestoredCheckpoints(),
                SequenceGate.restoredFrom(),
                CHECKPOINTS_BEFORE_FAILURES);

        assertThat(FAILURES_THROWN).hasValue(FAILURES);
        // each restore used the checkpoint that completed at the end of its segment (or a later
        // one of the same position): none was lost, none came from an earlier segment
        final List<Long> restoredFrom = SequenceGate.restoredFrom();
        assertThat(restoredFrom).hasSize(FAILURES);
        for (int i = 0; i < FAILURES; i++) {
            assertThat(restoredFrom.get(i))
                    .as("checkpoint restored after failure %s", i + 1)
                    .isGreaterThanOrEqualTo(CHECKPOINTS_BEFORE_FAILURES.get(i));
            if (i + 1 < FAILURES) {
                assertThat(restoredFrom.get(i))
                        .as("checkpoint restored after failure %s", i + 1)
                        .isLessThan(CHECKPOINTS_BEFORE_FAILURES.get(i + 1));
            }
        }
        assertThat(stats.getCounts().getNumberOfRestoredCheckpoints()).isEqualTo(FAILURES);

        assertThat(IncrementalTestJobs.lastResults())
                .containsExactlyInAnyOrderEntriesOf(
                        IncrementalTestJobs.expectedSumListMap(NUM_KEYS, VALUES_PER_KEY));
    }

    /** The first record after segment {@code segment}; the last segment ends with the input. */
    private static long segmentEnd(int segment) {
        return NUM_RECORDS * (segment + 1) / (FAILURES + 1);
    }

    /**
     * Opens the gate at the end of a segment once a checkpoint taken there completed, then fails on
     * the first record of the next segment, before that record reaches the keyed state.
     */
    private static final class FailAtSegmentEnds implements SequenceListener {

        @Override
        public void onCheckpointComplete(long checkpointId, long position) {
            final int failure = FAILURES_THROWN.get();
            if (failure < FAILURES
                    && position == segmentEnd(failure)
                    && CHECKPOINTS_BEFORE_FAILURES.size() == failure) {
                CHECKPOINTS_BEFORE_FAILURES.add(checkpointId);
                SequenceGate.allowUpTo(segmentEnd(failure) + 1);
            }
        }

        @Override
        public void onRecord(long index) {
            final int failure = FAILURES_THROWN.get();
            if (failure < FAILURES && index == segmentEnd(failure)) {
                if (CHECKPOINTS_BEFORE_FAILURES.size() != failure + 1) {
                    throw new IllegalStateException(
                            "The source passed the end of segment " + failure + " too early.");
                }
                FAILURES_THROWN.incrementAndGet();
                // after the restore, the source emits the next segment, the last one to the end
                if (failure + 1 < FAILURES) {
                    SequenceGate.allowUpTo(segmentEnd(failure + 1));
                } else {
                    SequenceGate.allowAll();
                }
                throw new RuntimeException(
                        "Injected failure "
                                + (failure + 1)
                                + " at record "
                                + index
                                + " after checkpoint "
                                + CHECKPOINTS_BEFORE_FAILURES.get(failure)
                                + " completed");
            }
        }
    }
}
