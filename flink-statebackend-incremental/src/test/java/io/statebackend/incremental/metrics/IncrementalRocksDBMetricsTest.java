package io.statebackend.incremental.metrics;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
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
import java.util.concurrent.TimeUnit;

import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.GROUP;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.LAST_CHECKPOINT_ID;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.LAST_CHECKPOINT_REUSED_BYTES;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.LAST_CHECKPOINT_REUSED_FILES;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.LAST_CHECKPOINT_UPLOADED_BYTES;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.LAST_CHECKPOINT_UPLOADED_FILES;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.LAST_CHECKPOINT_UPLOAD_DURATION;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.RESTORE_DOWNLOADED_BYTES;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.RESTORE_DURATION;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.UPLOAD_AHEAD_BYTES;
import static io.statebackend.incremental.metrics.IncrementalRocksDBMetrics.UPLOAD_AHEAD_DISCARDED_BYTES;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/** The gauges a backend registers in its operator's metric group, and what they show. */
class IncrementalRocksDBMetricsTest {

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
    void checkpointGaugesShowUploadedAndReusedFilesOfTheLastCheckpoint() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(metrics, List.of());
        assertThat(metrics.names())
                .containsExactlyInAnyOrder(
                        GROUP + "." + LAST_CHECKPOINT_ID,
                        GROUP + "." + LAST_CHECKPOINT_UPLOADED_FILES,
                        GROUP + "." + LAST_CHECKPOINT_UPLOADED_BYTES,
                        GROUP + "." + LAST_CHECKPOINT_REUSED_FILES,
                        GROUP + "." + LAST_CHECKPOINT_REUSED_BYTES,
                        GROUP + "." + LAST_CHECKPOINT_UPLOAD_DURATION,
                        GROUP + "." + RESTORE_DOWNLOADED_BYTES,
                        GROUP + "." + RESTORE_DURATION);
        assertThat(metrics.value(LAST_CHECKPOINT_ID)).isEqualTo(-1L);
        // a backend without state to restore downloaded nothing
        assertThat(metrics.value(RESTORE_DOWNLOADED_BYTES)).isEqualTo(0L);

        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        IncrementalRemoteKeyedStateHandle first = checkpoint(backend, 1);
        assertThat(metrics.value(LAST_CHECKPOINT_ID)).isEqualTo(1L);
        assertThat(metrics.value(LAST_CHECKPOINT_UPLOADED_FILES))
                .isEqualTo(first.getSharedState().size() + first.getPrivateState().size() + 1);
        assertThat(metrics.value(LAST_CHECKPOINT_UPLOADED_BYTES))
                .isEqualTo(first.getCheckpointedSize());
        assertThat(metrics.value(LAST_CHECKPOINT_REUSED_FILES)).isEqualTo(0);
        assertThat(metrics.value(LAST_CHECKPOINT_REUSED_BYTES)).isEqualTo(0L);
        assertThat((Long) metrics.value(LAST_CHECKPOINT_UPLOAD_DURATION)).isNotNegative();
        backend.notifyCheckpointComplete(1);

        writeAndFlush(backend, 0, 5, "c");
        IncrementalRemoteKeyedStateHandle second = checkpoint(backend, 2);
        int placeholders = 0;
        long placeholderBytes = 0;
        int uploaded = 0;
        for (HandleAndLocalPath file : second.getSharedState()) {
            if (file.getHandle() instanceof PlaceholderStreamStateHandle) {
                placeholders++;
                placeholderBytes += file.getStateSize();
            } else {
                uploaded++;
            }
        }
        assertThat(placeholders).isPositive();
        assertThat(metrics.value(LAST_CHECKPOINT_ID)).isEqualTo(2L);
        assertThat(metrics.value(LAST_CHECKPOINT_REUSED_FILES)).isEqualTo(placeholders);
        assertThat(metrics.value(LAST_CHECKPOINT_REUSED_BYTES)).isEqualTo(placeholderBytes);
        assertThat(metrics.value(LAST_CHECKPOINT_UPLOADED_FILES))
                .isEqualTo(uploaded + second.getPrivateState().size() + 1);
        assertThat(metrics.value(LAST_CHECKPOINT_UPLOADED_BYTES))
                .isEqualTo(second.getCheckpointedSize());

        // a savepoint is not a checkpoint: the gauges keep showing checkpoint 2
        RunnableFuture<SnapshotResult<KeyedStateHandle>> savepoint =
                backend.snapshot(
                        3,
                        3,
                        factory,
                        new CheckpointOptions(
                                SavepointType.savepoint(SavepointFormatType.NATIVE),
                                CheckpointOptions.forCheckpointWithDefaultLocation()
                                        .getTargetLocation()));
        savepoint.run();
        assertThat(savepoint.get().getJobManagerOwnedSnapshot()).isNotNull();
        assertThat(metrics.value(LAST_CHECKPOINT_ID)).isEqualTo(2L);
        assertThat(metrics.value(LAST_CHECKPOINT_REUSED_FILES)).isEqualTo(placeholders);
    }

    @Test
    void checkpointFinishingAfterALaterOneDoesNotReplaceIt() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(metrics, List.of());
        writeAndFlush(backend, 0, 100, "a");
        RunnableFuture<SnapshotResult<KeyedStateHandle>> earlier =
                backend.snapshot(
                        4, 4, factory, CheckpointOptions.forCheckpointWithDefaultLocation());
        writeAndFlush(backend, 100, 100, "b");
        RunnableFuture<SnapshotResult<KeyedStateHandle>> later =
                backend.snapshot(
                        5, 5, factory, CheckpointOptions.forCheckpointWithDefaultLocation());
        later.run();
        long laterBytes = later.get().getJobManagerOwnedSnapshot().getCheckpointedSize();
        earlier.run();
        assertThat(earlier.get().getJobManagerOwnedSnapshot()).isNotNull();

        assertThat(metrics.value(LAST_CHECKPOINT_ID)).isEqualTo(5L);
        assertThat(metrics.value(LAST_CHECKPOINT_UPLOADED_BYTES)).isEqualTo(laterBytes);
    }

    @Test
    void restoreGaugesShowDownloadedBytesAndDuration() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(new RecordingMetricGroup(), List.of());
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        IncrementalRemoteKeyedStateHandle handle = checkpoint(backend, 1);

        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                createBackend(metrics, List.of(handle));
        assertThat(get(restored, 1500)).isEqualTo("b-1500");

        long files = 0;
        for (HandleAndLocalPath file : handle.getSharedState()) {
            files += file.getStateSize();
        }
        for (HandleAndLocalPath file : handle.getPrivateState()) {
            files += file.getStateSize();
        }
        assertThat(metrics.value(RESTORE_DOWNLOADED_BYTES)).isEqualTo(files);
        assertThat((Long) metrics.value(RESTORE_DURATION)).isNotNegative();
        assertThat(restored.getMetrics().getRestoreDownloadedBytes()).isEqualTo(files);
    }

    @Test
    void uploadAheadGaugesShowWhatWasUploadedAndDiscarded() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        new IncrementalRocksDBStateBackend(true)
                                .withSetting(
                                        IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD.key(),
                                        "true"),
                        metrics,
                        List.of());
        assertThat(metrics.names())
                .contains(
                        GROUP + "." + UPLOAD_AHEAD_BYTES,
                        GROUP + "." + UPLOAD_AHEAD_DISCARDED_BYTES);
        writeAndFlush(backend, 0, 1000, "a");
        checkpoint(backend, 1);
        backend.notifyCheckpointComplete(1);

        // uploaded ahead, then compacted away before a checkpoint took it over
        writeAndFlush(backend, 0, 1000, "b");
        backend.getDb()
                .compactRange(backend.getColumnFamily(IncrementalTestHarness.STATE.getName()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while ((Long) metrics.value(UPLOAD_AHEAD_DISCARDED_BYTES) == 0) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(5);
        }
        // no checkpoint took anything over: once disposed, every upload ahead was discarded
        backend.dispose();
        assertThat((Long) metrics.value(UPLOAD_AHEAD_BYTES))
                .isPositive()
                .isEqualTo(metrics.value(UPLOAD_AHEAD_DISCARDED_BYTES));
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            MetricGroup metrics, Collection<KeyedStateHandle> restoreFrom) throws Exception {
        return createBackend(new IncrementalRocksDBStateBackend(true), metrics, restoreFrom);
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            IncrementalRocksDBStateBackend stateBackend,
            MetricGroup metrics,
            Collection<KeyedStateHandle> restoreFrom)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        stateBackend.withLocalDirectories(tempDir.resolve("local").toString()),
                        env,
                        "metrics-operator",
                        metrics,
                        IntSerializer.INSTANCE,
                        IncrementalTestHarness.MAX_PARALLELISM,
                        ALL,
                        restoreFrom,
                        1.0,
                        new CloseableRegistry());
        backends.add(backend);
        return backend;
    }

    private IncrementalRemoteKeyedStateHandle checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, long checkpointId)
            throws Exception {
        return IncrementalTestHarness.snapshot(
                backend,
                checkpointId,
                factory,
                CheckpointOptions.forCheckpointWithDefaultLocation());
    }

    /** A metric group that records the gauges registered in it and its sub-groups, by path. */
    static final class RecordingMetricGroup extends UnregisteredMetricsGroup {
        private final Map<String, Gauge<?>> gauges;
        private final String prefix;

        RecordingMetricGroup() {
            this(new ConcurrentHashMap<>(), "");
        }

        private RecordingMetricGroup(Map<String, Gauge<?>> gauges, String prefix) {
            this.gauges = gauges;
            this.prefix = prefix;
        }

        @Override
        public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
            gauges.put(prefix + name, gauge);
            return gauge;
        }

        @Override
        public MetricGroup addGroup(String name) {
            return new RecordingMetricGroup(gauges, prefix + name + ".");
        }

        Collection<String> names() {
            return gauges.keySet();
        }

        /** The value of a gauge of this backend's group. */
        Object value(String name) {
            Gauge<?> gauge = gauges.get(GROUP + "." + name);
            assertThat(gauge).as("gauge %s", name).isNotNull();
            return gauge.getValue();
        }
    }
}
