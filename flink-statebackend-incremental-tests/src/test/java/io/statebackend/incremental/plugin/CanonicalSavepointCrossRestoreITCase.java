package io.statebackend.incremental.plugin;

import io.statebackend.incremental.plugin.StateKindsJob.Run;

import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.RestoredCheckpointStats;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.statebackend.incremental.plugin.Backend.FLINK_ROCKSDB;
import static io.statebackend.incremental.plugin.Backend.HASHMAP;
import static io.statebackend.incremental.plugin.Backend.INCREMENTAL;
import static io.statebackend.incremental.plugin.Backend.INCREMENTAL_HEAP_TIMERS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Canonical savepoints move keyed state between this backend, loaded from the plugins directory,
 * and Flink's {@code EmbeddedRocksDBStateBackend} and {@code HashMapStateBackend}, in both
 * directions and while the keyed operator's parallelism changes.
 *
 * <p>A first job processes the first half of every key's records into state of every kind
 * (including TTL state and pending event-time timers) and is stopped with a canonical savepoint
 * while its source waits; a second job on the other backend resumes from it, processes the second
 * half and, at the end of the input, fires every timer and reports each key's complete state, which
 * must be exactly that of one uninterrupted run. A TTL state written only before the savepoint must
 * have expired.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CanonicalSavepointCrossRestoreITCase {

    private static final int MAX_PARALLELISM_USED = 3;

    private static final Duration PHASE_TIMEOUT = Duration.ofMinutes(2);

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(MAX_PARALLELISM_USED)
                            .build());

    /** Deleted after the MiniCluster, which discards finished jobs' checkpoints asynchronously. */
    @TempDir static Path root;

    private final List<Run> runs = new ArrayList<>();

    /** How the first job's savepoint is taken. */
    enum SavepointKind {
        /** {@code stopWithSavepoint} without draining: the job finishes with the savepoint. */
        STOP,
        /** {@code triggerSavepoint} on the running job, which is then cancelled. */
        TRIGGER_THEN_CANCEL
    }

    static Stream<Arguments> roundTrips() {
        return Stream.of(
                Arguments.of(FLINK_ROCKSDB, INCREMENTAL, 2, 3, SavepointKind.STOP, false),
                Arguments.of(
                        FLINK_ROCKSDB, INCREMENTAL, 3, 2, SavepointKind.TRIGGER_THEN_CANCEL, false),
                Arguments.of(HASHMAP, INCREMENTAL, 2, 3, SavepointKind.TRIGGER_THEN_CANCEL, false),
                Arguments.of(HASHMAP, INCREMENTAL, 3, 2, SavepointKind.STOP, false),
                Arguments.of(INCREMENTAL, FLINK_ROCKSDB, 2, 3, SavepointKind.STOP, false),
                Arguments.of(
                        INCREMENTAL, FLINK_ROCKSDB, 3, 2, SavepointKind.TRIGGER_THEN_CANCEL, false),
                Arguments.of(INCREMENTAL, HASHMAP, 2, 3, SavepointKind.TRIGGER_THEN_CANCEL, false),
                Arguments.of(INCREMENTAL, HASHMAP, 3, 2, SavepointKind.STOP, false),
                // timers written from the heap, read into RocksDB, and back
                Arguments.of(INCREMENTAL_HEAP_TIMERS, INCREMENTAL, 2, 3, SavepointKind.STOP, false),
                Arguments.of(INCREMENTAL, INCREMENTAL_HEAP_TIMERS, 3, 2, SavepointKind.STOP, false),
                // key groups written with snapshot compression
                Arguments.of(FLINK_ROCKSDB, INCREMENTAL, 2, 3, SavepointKind.STOP, true),
                Arguments.of(INCREMENTAL, FLINK_ROCKSDB, 3, 2, SavepointKind.STOP, true),
                // without rescaling
                Arguments.of(FLINK_ROCKSDB, INCREMENTAL, 2, 2, SavepointKind.STOP, false),
                Arguments.of(INCREMENTAL, FLINK_ROCKSDB, 2, 2, SavepointKind.STOP, false),
                Arguments.of(HASHMAP, INCREMENTAL, 2, 2, SavepointKind.STOP, false),
                Arguments.of(INCREMENTAL, HASHMAP, 2, 2, SavepointKind.STOP, false));
    }

    @AfterEach
    void forgetRuns() {
        runs.forEach(StateKindsJob::forget);
    }

    @ParameterizedTest(name = "{0} -> {1}, parallelism {2} -> {3}, {4}, compression={5}")
    @MethodSource("roundTrips")
    void resumesFromCanonicalSavepointOfTheOtherBackend(
            Backend from,
            Backend to,
            int parallelismBefore,
            int parallelismAfter,
            SavepointKind savepointKind,
            boolean compression,
            @InjectMiniCluster MiniCluster cluster)
            throws Throwable {
        final String name =
                from.name()
                        + "-to-"
                        + to.name()
                        + "-"
                        + parallelismBefore
                        + "-"
                        + parallelismAfter
                        + "-"
                        + savepointKind
                        + (compression ? "-compressed" : "");
        final Run before = newRun(name + "-before");
        final Run after = newRun(name + "-after");
        final long half = StateKindsJob.NUM_RECORDS / 2;

        // the first half of the input, then a canonical savepoint
        final JobID first =
                submit(
                        cluster,
                        jobGraph(from, compression, before, parallelismBefore, 0, half),
                        null);
        awaitProcessed(cluster, first, before, half);
        final long firstHalfProcessedAt = System.nanoTime();
        final String savepoint =
                takeSavepoint(
                        cluster,
                        first,
                        savepointKind,
                        Files.createTempDirectory(root, "savepoints-"));
        awaitEnd(cluster, first, savepointKind);
        from.assertJobRanOnIt(before);
        assertThat(before.results).as("nothing is emitted before the savepoint").isEmpty();

        // the expiring TTL state, written before the savepoint, must be expired when read
        final long expiredAt = firstHalfProcessedAt + StateKindsJob.EXPIRING_TTL.toNanos();
        while (System.nanoTime() < expiredAt + TimeUnit.MILLISECONDS.toNanos(100)) {
            Thread.sleep(20);
        }

        // the second half on the other backend, resumed from the savepoint
        final JobID second =
                submit(
                        cluster,
                        jobGraph(
                                to,
                                compression,
                                after,
                                parallelismAfter,
                                half,
                                StateKindsJob.NUM_RECORDS),
                        savepoint);
        StateKindsJob.awaitSuccess(cluster, second);

        final RestoredCheckpointStats restored =
                cluster.getArchivedExecutionGraph(second)
                        .get()
                        .getCheckpointStatsSnapshot()
                        .getLatestRestoredCheckpoint();
        assertThat(restored).as("the second job was restored").isNotNull();
        assertThat(restored.getProperties().isSavepoint()).isTrue();
        assertThat(restored.getExternalPath()).isEqualTo(savepoint);

        to.assertJobRanOnIt(after);
        assertThat(after.processed).as("records of the second job").hasValue(half);
        assertThat(after.results)
                .as("state per key after %s -> %s", from, to)
                .containsExactlyInAnyOrderEntriesOf(StateKindsJob.expectedResults());
        assertThat(after.emissionCounts().values()).as("emissions per key").containsOnly(1);
    }

    private Run newRun(String name) {
        final Run run = StateKindsJob.newRun(name);
        runs.add(run);
        return run;
    }

    private static JobGraph jobGraph(
            Backend backend, boolean compression, Run run, int parallelism, long from, long to)
            throws Exception {
        final Configuration config =
                backend.configuration(Files.createTempDirectory(root, "checkpoints-"));
        config.set(ExecutionOptions.SNAPSHOT_COMPRESSION, compression);
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        StateKindsJob.keyedStateAndSink(
                StateKindsJob.phaseSource(env, from, to), run, parallelism, true);
        return env.getStreamGraph().getJobGraph();
    }

    private static JobID submit(MiniCluster cluster, JobGraph jobGraph, String savepoint)
            throws Exception {
        if (savepoint != null) {
            // the first job's source has state of its own under a different uid
            jobGraph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint, true));
        }
        return cluster.submitJob(jobGraph).get().getJobID();
    }

    private static void awaitProcessed(MiniCluster cluster, JobID job, Run run, long records)
            throws Exception {
        final long deadline = System.nanoTime() + PHASE_TIMEOUT.toNanos();
        while (run.processed.get() < records) {
            if (cluster.getJobStatus(job).get().isGloballyTerminalState()) {
                // a job that ended early says why instead of letting the wait time out
                throw new AssertionError(
                        run.name + " ended after " + run.processed.get() + " records",
                        cluster.requestJobResult(job)
                                .get()
                                .getSerializedThrowable()
                                .map(t -> t.deserializeError(ClassLoader.getSystemClassLoader()))
                                .orElse(null));
            }
            assertThat(System.nanoTime())
                    .as("%s processed %s of %s records", run.name, run.processed.get(), records)
                    .isLessThan(deadline);
            Thread.sleep(10);
        }
        assertThat(run.processed).hasValue(records);
    }

    private static String takeSavepoint(
            MiniCluster cluster, JobID job, SavepointKind kind, Path directory) throws Exception {
        final String target = directory.toUri().toString();
        switch (kind) {
            case STOP:
                return cluster.stopWithSavepoint(job, target, false, SavepointFormatType.CANONICAL)
                        .get();
            case TRIGGER_THEN_CANCEL:
                final String savepoint =
                        cluster.triggerSavepoint(job, target, false, SavepointFormatType.CANONICAL)
                                .get();
                cluster.cancelJob(job).get();
                return savepoint;
            default:
                throw new IllegalArgumentException(kind.toString());
        }
    }

    private static void awaitEnd(MiniCluster cluster, JobID job, SavepointKind kind)
            throws Throwable {
        if (kind == SavepointKind.STOP) {
            StateKindsJob.awaitSuccess(cluster, job);
        } else {
            cluster.requestJobResult(job).get();
        }
    }
}
