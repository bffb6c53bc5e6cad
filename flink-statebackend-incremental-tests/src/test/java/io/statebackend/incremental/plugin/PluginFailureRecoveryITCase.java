package io.statebackend.incremental.plugin;

import io.statebackend.incremental.plugin.StateKindsJob.Run;

import org.apache.flink.api.common.JobID;
import org.apache.flink.runtime.checkpoint.RestoredCheckpointStats;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Jobs on the backend loaded from the plugins directory, as on a cluster, with Flink's own RocksDB
 * backend and FRocksDB on the class path: keyed state of every kind, event-time timers and TTL
 * state are checkpointed, the job fails once after a checkpoint that holds the first half of the
 * input and must end, after the restore, with exactly the state it would have had without the
 * failure. One test runs a job on this backend and one on Flink's {@code
 * EmbeddedRocksDBStateBackend} at the same time, in this JVM: upstream RocksDB and FRocksDB side by
 * side.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PluginFailureRecoveryITCase {

    private static final int PARALLELISM = 2;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(2 * PARALLELISM)
                            .build());

    /** Deleted after the MiniCluster, which discards finished jobs' checkpoints asynchronously. */
    @TempDir static Path checkpointsRoot;

    private final List<Run> runs = new ArrayList<>();

    @AfterEach
    void forgetRuns() {
        runs.forEach(StateKindsJob::forget);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = Backend.class,
            names = {"INCREMENTAL", "INCREMENTAL_HEAP_TIMERS"})
    void restoresExactStateAfterOneFailure(Backend backend, @InjectMiniCluster MiniCluster cluster)
            throws Throwable {
        final Run run = newRun("recovery-" + backend.name());
        final JobID job = submit(cluster, backend, run);

        assertRecoveredExactly(cluster, job, backend, run);
    }

    @Test
    void runsBesideFlinksRocksDBBackend(@InjectMiniCluster MiniCluster cluster) throws Throwable {
        final Run ours = newRun("side-by-side-incremental");
        final Run flinks = newRun("side-by-side-flink-rocksdb");
        final JobID ourJob = submit(cluster, Backend.INCREMENTAL, ours);
        final JobID flinkJob = submit(cluster, Backend.FLINK_ROCKSDB, flinks);

        assertRecoveredExactly(cluster, ourJob, Backend.INCREMENTAL, ours);
        assertRecoveredExactly(cluster, flinkJob, Backend.FLINK_ROCKSDB, flinks);
    }

    private Run newRun(String name) {
        final Run run = StateKindsJob.newRun(name);
        runs.add(run);
        return run;
    }

    private static JobID submit(MiniCluster cluster, Backend backend, Run run) throws Exception {
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(
                        backend.configuration(
                                Files.createTempDirectory(checkpointsRoot, "checkpoints-")));
        StateKindsJob.keyedStateAndSink(
                StateKindsJob.failingOnceSource(env, run, StateKindsJob.NUM_RECORDS / 2),
                run,
                PARALLELISM,
                false);
        final JobGraph jobGraph = env.getStreamGraph().getJobGraph();
        return cluster.submitJob(jobGraph).get().getJobID();
    }

    private static void assertRecoveredExactly(
            MiniCluster cluster, JobID job, Backend backend, Run run) throws Throwable {
        StateKindsJob.awaitSuccess(cluster, job);
        assertThat(run.failureThrown).as("the injected failure was thrown").isTrue();

        final RestoredCheckpointStats restored =
                cluster.getArchivedExecutionGraph(job)
                        .get()
                        .getCheckpointStatsSnapshot()
                        .getLatestRestoredCheckpoint();
        assertThat(restored).as("the job was restored from a checkpoint").isNotNull();
        assertThat(restored.getCheckpointId())
                .as("restored from the checkpoint taken at the gate (or a later one)")
                .isGreaterThanOrEqualTo(run.gateCheckpointId.get());

        backend.assertJobRanOnIt(run);
        assertThat(run.results)
                .as("state per key of run %s", run.name)
                .containsExactlyInAnyOrderEntriesOf(StateKindsJob.expectedResults());
        assertThat(run.emissionCounts().values()).as("emissions per key").containsOnly(1);
    }
}
