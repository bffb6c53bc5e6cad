package io.statebackend.incremental.itcase;

import io.statebackend.incremental.itcase.IncrementalTestJobs.LastResultPerKeySink;
import io.statebackend.incremental.itcase.IncrementalTestJobs.ModuloKey;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceListener;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SumListMap;
import io.statebackend.incremental.itcase.RetainedCheckpoints.ReferencedFiles;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.RestoreMode;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A keyed job runs on this backend with retained incremental checkpoints until a checkpoint holds
 * the first half of its input, and is cancelled; a second job resumes from the retained checkpoint
 * at another parallelism (2 to 3, 3 to 1), in {@code CLAIM} and {@code NO_CLAIM} mode, processes
 * the second half and must end with exactly the state of the whole input.
 *
 * <p>The first job's source emits the first half in a few steps, each after a checkpoint, then
 * waits for ever; the test cancels the job once a checkpoint taken there completed. All checkpoints
 * taken from then on hold the same position, so whichever the job retained covers exactly the first
 * half.
 */
// a safety net so that a hang in the backend fails this class instead of the whole build
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RescaleFromRetainedCheckpointITCase {

    private static final int NUM_KEYS = 1_000;
    private static final int VALUES_PER_KEY = 20;
    private static final long NUM_RECORDS = (long) NUM_KEYS * VALUES_PER_KEY;
    private static final long FIRST_HALF = NUM_RECORDS / 2;

    /**
     * The first job emits the first half in steps, each after a checkpoint of the previous one
     * completed, so that the retained checkpoint refers to SST files of several checkpoints.
     */
    private static final long STEP = FIRST_HALF / 4;

    private static final int SLOTS = 3;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(SLOTS)
                            .build());

    /**
     * Shared by all tests of the class and deleted after the MiniCluster has shut down: the cluster
     * discards a finished job's checkpoints asynchronously, after the job's result is available.
     */
    @TempDir static Path checkpointsRoot;

    /** Completed with the id of the first checkpoint that holds the first half of the input. */
    private static volatile CompletableFuture<Long> firstHalfCheckpointed;

    @BeforeEach
    void resetCoordination() {
        IncrementalTestJobs.reset();
        firstHalfCheckpointed = new CompletableFuture<>();
    }

    static Stream<Arguments> rescalings() {
        return Stream.of(
                Arguments.of(RestoreMode.CLAIM, 2, 3),
                Arguments.of(RestoreMode.NO_CLAIM, 2, 3),
                Arguments.of(RestoreMode.CLAIM, 3, 1),
                Arguments.of(RestoreMode.NO_CLAIM, 3, 1));
    }

    @ParameterizedTest(name = "{0}, parallelism {1} -> {2}")
    @MethodSource("rescalings")
    void resumesAtAnotherParallelism(
            RestoreMode restoreMode,
            int parallelismBefore,
            int parallelismAfter,
            @InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final Path checkpointsBase = Files.createTempDirectory(checkpointsRoot, "checkpoints-");

        // the first job: the first half of the input, then cancelled
        SequenceGate.setListener(
                new SequenceListener() {
                    @Override
                    public void onCheckpointComplete(long checkpointId, long position) {
                        if (position == FIRST_HALF) {
                            firstHalfCheckpointed.complete(checkpointId);
                        } else if (position % STEP == 0) {
                            SequenceGate.allowUpTo(position + STEP);
                        }
                    }
                });
        SequenceGate.allowUpTo(STEP);
        final JobID firstJob =
                IncrementalTestJobs.submit(
                        miniCluster, job(checkpointsBase, parallelismBefore, new Configuration()));
        final long firstHalfCheckpoint =
                firstHalfCheckpointed.get(
                        IncrementalTestJobs.WAIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        IncrementalTestJobs.cancelAndWait(miniCluster, firstJob);

        final Path jobDirectory = RetainedCheckpoints.jobDirectory(checkpointsBase, firstJob);
        final List<Path> retained = RetainedCheckpoints.retainedCheckpoints(jobDirectory);
        assertThat(retained).as("checkpoints retained in %s", jobDirectory).isNotEmpty();
        final Path retainedCheckpoint = retained.get(retained.size() - 1);
        final long retainedId = RetainedCheckpoints.checkpointId(retainedCheckpoint);
        assertThat(retainedId).isGreaterThanOrEqualTo(firstHalfCheckpoint);
        final ReferencedFiles retainedFiles =
                RetainedCheckpoints.referencedFiles(
                        RetainedCheckpoints.loadMetadata(retainedCheckpoint));
        assertThat(retainedFiles.incrementalHandles)
                .as("incremental keyed state handles in %s", retainedCheckpoint)
                .isEqualTo(parallelismBefore);
        System.out.printf(
                "%s [%s, %d -> %d]: resuming from %s of job %s (SST files per backend %s,"
                        + " %d exclusive files)%n",
                getClass().getSimpleName(),
                restoreMode,
                parallelismBefore,
                parallelismAfter,
                retainedCheckpoint.getFileName(),
                firstJob,
                retainedFiles.sharedFilesPerHandle,
                retainedFiles.exclusiveFiles.size());

        // the second job: resumes from the retained checkpoint and processes the second half
        IncrementalTestJobs.reset();
        SequenceGate.allowAll();
        final Configuration restore = new Configuration();
        restore.set(StateRecoveryOptions.SAVEPOINT_PATH, retainedCheckpoint.toUri().toString());
        restore.set(StateRecoveryOptions.RESTORE_MODE, restoreMode);
        final JobID secondJob =
                IncrementalTestJobs.submit(
                        miniCluster,
                        job(checkpointsBase, parallelismAfter, restore),
                        SavepointRestoreSettings.fromConfiguration(restore));
        IncrementalTestJobs.awaitSuccess(miniCluster, secondJob);

        assertThat(SequenceGate.restoredFrom()).containsExactly(retainedId);
        assertThat(IncrementalTestJobs.lastResults())
                .containsExactlyInAnyOrderEntriesOf(
                        IncrementalTestJobs.expectedSumListMap(NUM_KEYS, VALUES_PER_KEY));
        if (restoreMode == RestoreMode.NO_CLAIM) {
            // the resumed job must leave a checkpoint it did not claim as it found it
            assertThat(retainedFiles.allFiles()).allSatisfy(file -> assertThat(file).exists());
        }
    }

    private static StreamExecutionEnvironment job(
            Path checkpointsBase, int keyedParallelism, Configuration extra) {
        final Configuration config =
                IncrementalTestJobs.incrementalCheckpoints(checkpointsBase, Duration.ofMillis(100));
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        config.addAll(extra);
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        IncrementalTestJobs.gatedSequence(env, NUM_RECORDS)
                .keyBy(new ModuloKey(NUM_KEYS), Types.INT)
                .process(new SumListMap(NUM_RECORDS - NUM_KEYS))
                .uid("sum-list-map")
                .setParallelism(keyedParallelism)
                .sinkTo(new LastResultPerKeySink())
                .uid("last-result-per-key")
                .setParallelism(keyedParallelism);
        return env;
    }
}
