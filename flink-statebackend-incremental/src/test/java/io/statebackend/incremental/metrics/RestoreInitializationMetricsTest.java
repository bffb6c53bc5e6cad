package io.statebackend.incremental.metrics;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RunnableFuture;

import static io.statebackend.incremental.metrics.RestoreInitializationMetrics.DOWNLOAD_STATE_DURATION;
import static io.statebackend.incremental.metrics.RestoreInitializationMetrics.RESTORE_STATE_DURATION;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/** What a restore reports to the task's initialization metrics, under Flink's names. */
class RestoreInitializationMetricsTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private MockEnvironment env;
    private CheckpointStreamFactory factory;
    private final List<IncrementalRocksDBKeyedStateBackend<?>> backends = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        env = MockEnvironment.builder().build();
        factory = TestStreamFactories.files(tempDir.resolve("storage"));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<?> backend : backends) {
            backend.dispose();
        }
        env.close();
    }

    @Test
    void theNamesAreFlinks() {
        assertThat(DOWNLOAD_STATE_DURATION).isEqualTo("DownloadStateDurationMs");
        assertThat(RESTORE_STATE_DURATION).isEqualTo("RestoreStateDurationMs");
    }

    @Test
    void aNewBackendReportsNothing() throws Exception {
        Map<String, Long> reported = new ConcurrentHashMap<>();
        createBackend(true, reported, List.of());
        assertThat(reported).isEmpty();
    }

    @Test
    void anIncrementalRestoreReportsDownloadAndRestoreDurations() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(true, new ConcurrentHashMap<>(), List.of());
        writeAndFlush(backend, 0, 1000, "a");
        KeyedStateHandle handle = snapshot(backend, 1);

        Map<String, Long> reported = new ConcurrentHashMap<>();
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                createBackend(true, reported, List.of(handle));
        assertThat(get(restored, 500)).isEqualTo("a-500");
        assertThat(reported).containsOnlyKeys(DOWNLOAD_STATE_DURATION, RESTORE_STATE_DURATION);
        assertThat(reported.values()).allSatisfy(value -> assertThat(value).isNotNegative());
    }

    @Test
    void aRestoreFromTheCanonicalFormatReportsTheRestoreDuration() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(false, new ConcurrentHashMap<>(), List.of());
        writeAndFlush(backend, 0, 1000, "a");
        KeyedStateHandle handle = snapshot(backend, 1);
        assertThat(handle).isInstanceOf(KeyGroupsStateHandle.class);

        Map<String, Long> reported = new ConcurrentHashMap<>();
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                createBackend(false, reported, List.of(handle));
        assertThat(get(restored, 500)).isEqualTo("a-500");
        assertThat(reported).containsOnlyKeys(RESTORE_STATE_DURATION);
        assertThat(reported.get(RESTORE_STATE_DURATION)).isNotNegative();
    }

    private KeyedStateHandle snapshot(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, long checkpointId)
            throws Exception {
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        checkpointId,
                        checkpointId,
                        factory,
                        CheckpointOptions.forCheckpointWithDefaultLocation());
        future.run();
        return future.get().getJobManagerOwnedSnapshot();
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            boolean incremental, Map<String, Long> reported, Collection<KeyedStateHandle> from)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        new IncrementalRocksDBStateBackend(incremental)
                                .withLocalDirectories(tempDir.resolve("local").toString()),
                        env,
                        "restore-metrics-operator",
                        new UnregisteredMetricsGroup(),
                        (name, value) -> reported.merge(name, value, Long::sum),
                        IntSerializer.INSTANCE,
                        IncrementalTestHarness.MAX_PARALLELISM,
                        ALL,
                        from,
                        1.0,
                        new CloseableRegistry());
        backends.add(backend);
        return backend;
    }
}
