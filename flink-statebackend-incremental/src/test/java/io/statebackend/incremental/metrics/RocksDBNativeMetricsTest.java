package io.statebackend.incremental.metrics;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.STATE;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/** RocksDB's native metrics: names, values, registration once per state, safety after dispose. */
class RocksDBNativeMetricsTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private MockEnvironment env;
    private final List<IncrementalRocksDBKeyedStateBackend<?>> backends = new ArrayList<>();

    @BeforeEach
    void setUp() {
        env = MockEnvironment.builder().build();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<?> backend : backends) {
            backend.dispose();
        }
        env.close();
    }

    @Test
    void noGaugesWhenNoSwitchIsOn() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(new IncrementalRocksDBStateBackend(true), metrics, List.of());
        writeAndFlush(backend, 0, 10, "a");
        assertThat(metrics.names()).allMatch(name -> name.startsWith("incrementalRocksDB."));
        assertThat(backend.getRocksDBInstance().getStatistics()).isNull();
    }

    @Test
    void propertiesPerColumnFamilyAndTickersInTheOperatorGroup() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        switchedOn(
                                RocksDBNativeMetricOptions.ESTIMATE_NUM_KEYS,
                                RocksDBNativeMetricOptions.MONITOR_NUM_FILES_AT_LEVEL,
                                RocksDBNativeMetricOptions.MONITOR_BYTES_WRITTEN),
                        metrics,
                        List.of());
        // tickers exist from the start, properties once a state exists
        assertThat(nativeNames(metrics)).containsExactly("rocksdb.bytes_written");

        writeAndFlush(backend, 0, 100, "a");
        assertThat(nativeNames(metrics))
                .containsExactlyInAnyOrder(
                        "rocksdb.bytes_written",
                        "values.rocksdb.estimate-num-keys",
                        "values.rocksdb.num-files-at-level0",
                        "values.rocksdb.num-files-at-level1",
                        "values.rocksdb.num-files-at-level2",
                        "values.rocksdb.num-files-at-level3",
                        "values.rocksdb.num-files-at-level4",
                        "values.rocksdb.num-files-at-level5",
                        "values.rocksdb.num-files-at-level6");
        assertThat(metrics.value("values.rocksdb.estimate-num-keys"))
                .isEqualTo(BigInteger.valueOf(100));
        assertThat(metrics.value("values.rocksdb.num-files-at-level0")).isEqualTo(BigInteger.ONE);
        assertThat(metrics.value("values.rocksdb.num-files-at-level6")).isEqualTo(BigInteger.ZERO);
        assertThat((Long) metrics.value("rocksdb.bytes_written")).isPositive();
    }

    @Test
    void statesRegisteredLaterGetGaugesOnceEach() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        switchedOn(RocksDBNativeMetricOptions.MONITOR_NUM_ENTRIES_ACTIVE_MEM_TABLE),
                        metrics,
                        List.of());
        writeAndFlush(backend, 0, 10, "a");
        ValueStateDescriptor<String> late =
                new ValueStateDescriptor<>("late", StringSerializer.INSTANCE);
        for (int i = 0; i < 3; i++) {
            // the same states, asked for again, keep their gauges
            ValueState<String> state =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, late);
            backend.setCurrentKey(i);
            state.update("x");
            IncrementalTestHarness.put(backend, i, "b");
        }
        assertThat(nativeNames(metrics))
                .containsExactlyInAnyOrder(
                        "values.rocksdb.num-entries-active-mem-table",
                        "late.rocksdb.num-entries-active-mem-table");
        assertThat(metrics.registrations()).allSatisfy((name, count) -> assertThat(count).isOne());
        assertThat(metrics.value("late.rocksdb.num-entries-active-mem-table"))
                .isEqualTo(BigInteger.valueOf(3));
    }

    @Test
    void restoredStatesAreRegisteredBeforeTheyAreAccessed() throws Exception {
        IncrementalRocksDBStateBackend stateBackend =
                switchedOn(RocksDBNativeMetricOptions.ESTIMATE_NUM_KEYS);
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(stateBackend, new RecordingMetricGroup(), List.of());
        writeAndFlush(backend, 0, 50, "a");
        KeyedStateHandle handle =
                IncrementalTestHarness.snapshot(
                        backend,
                        1,
                        TestStreamFactories.files(tempDir.resolve("storage")),
                        CheckpointOptions.forCheckpointWithDefaultLocation());

        RecordingMetricGroup metrics = new RecordingMetricGroup();
        createBackend(stateBackend, metrics, List.of(handle));
        assertThat(nativeNames(metrics)).containsExactly("values.rocksdb.estimate-num-keys");
        assertThat(metrics.value("values.rocksdb.estimate-num-keys"))
                .isEqualTo(BigInteger.valueOf(50));
    }

    @Test
    void columnFamilyAsVariable() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        switchedOn(
                                RocksDBNativeMetricOptions.ESTIMATE_NUM_KEYS,
                                RocksDBNativeMetricOptions.COLUMN_FAMILY_AS_VARIABLE),
                        metrics,
                        List.of());
        writeAndFlush(backend, 0, 10, "a");
        assertThat(nativeNames(metrics))
                .containsExactly("column_family.<values>.rocksdb.estimate-num-keys");
    }

    @Test
    void gaugesKeepTheirLastValuesAfterDispose() throws Exception {
        RecordingMetricGroup metrics = new RecordingMetricGroup();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        switchedOn(
                                RocksDBNativeMetricOptions.ESTIMATE_NUM_KEYS,
                                RocksDBNativeMetricOptions.MONITOR_NUM_FILES_AT_LEVEL,
                                RocksDBNativeMetricOptions.MONITOR_BYTES_WRITTEN),
                        metrics,
                        List.of());
        writeAndFlush(backend, 0, 20, "a");
        Map<String, Object> before = new java.util.HashMap<>();
        for (String name : nativeNames(metrics)) {
            before.put(name, metrics.value(name));
        }

        backend.dispose();
        assertThat(backend.getRocksDBInstance().getStatistics().isOwningHandle()).isFalse();
        for (String name : nativeNames(metrics)) {
            assertThat(metrics.value(name)).as(name).isEqualTo(before.get(name));
        }
    }

    @Test
    void unsignedValuesAboveLongMaxValue() {
        assertThat(RocksDBNativeMetricMonitor.unsigned(-1L))
                .isEqualTo(BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE));
        assertThat(RocksDBNativeMetricMonitor.unsigned(Long.MIN_VALUE))
                .isEqualTo(BigInteger.ONE.shiftLeft(63));
        assertThat(RocksDBNativeMetricMonitor.unsigned(5L)).isEqualTo(BigInteger.valueOf(5));
    }

    /** Flink 1.20's keys, one per switch, each off by default. */
    @Test
    void everyFlinkSwitchIsReadAndOffByDefault() {
        List<String> keys = new ArrayList<>();
        for (ConfigOption<Boolean> option : RocksDBNativeMetricOptions.allOptions()) {
            assertThat(option.defaultValue()).as(option.key()).isFalse();
            keys.add(option.key());
        }
        assertThat(keys).hasSize(39).doesNotHaveDuplicates();
        assertThat(keys)
                .allMatch(key -> key.startsWith("state.backend.rocksdb.metrics."))
                .contains(
                        "state.backend.rocksdb.metrics.estimate-num-keys",
                        "state.backend.rocksdb.metrics.num-files-at-level",
                        "state.backend.rocksdb.metrics.column-family-as-variable",
                        "state.backend.rocksdb.metrics.block-cache-hit",
                        "state.backend.rocksdb.metrics.stall-micros");
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBStateBackend switchedOn(ConfigOption<?>... options) {
        IncrementalRocksDBStateBackend backend = new IncrementalRocksDBStateBackend(true);
        for (ConfigOption<?> option : options) {
            backend = backend.withSetting(option.key(), "true");
        }
        return backend;
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
                        "native-metrics-operator",
                        metrics,
                        IntSerializer.INSTANCE,
                        IncrementalTestHarness.MAX_PARALLELISM,
                        ALL,
                        restoreFrom,
                        1.0,
                        new CloseableRegistry());
        backends.add(backend);
        // the value state of the harness is named "values"
        assertThat(STATE.getName()).isEqualTo("values");
        return backend;
    }

    private static List<String> nativeNames(RecordingMetricGroup metrics) {
        List<String> names = new ArrayList<>();
        for (String name : metrics.names()) {
            if (!name.startsWith(IncrementalRocksDBMetrics.GROUP + ".")) {
                names.add(name);
            }
        }
        return names;
    }

    /**
     * A metric group that records the gauges registered in it and its sub-groups by path, a
     * variable as {@code key.<value>}, and how often each name was registered.
     */
    static final class RecordingMetricGroup extends UnregisteredMetricsGroup {
        private final Map<String, Gauge<?>> gauges;
        private final Map<String, AtomicInteger> registrations;
        private final String prefix;

        RecordingMetricGroup() {
            this(new ConcurrentHashMap<>(), new ConcurrentHashMap<>(), "");
        }

        private RecordingMetricGroup(
                Map<String, Gauge<?>> gauges,
                Map<String, AtomicInteger> registrations,
                String prefix) {
            this.gauges = gauges;
            this.registrations = registrations;
            this.prefix = prefix;
        }

        @Override
        public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
            gauges.put(prefix + name, gauge);
            registrations
                    .computeIfAbsent(prefix + name, n -> new AtomicInteger())
                    .incrementAndGet();
            return gauge;
        }

        @Override
        public MetricGroup addGroup(String name) {
            return new RecordingMetricGroup(gauges, registrations, prefix + name + ".");
        }

        @Override
        public MetricGroup addGroup(String key, String value) {
            return new RecordingMetricGroup(
                    gauges, registrations, prefix + key + ".<" + value + ">.");
        }

        Collection<String> names() {
            return gauges.keySet();
        }

        Map<String, Integer> registrations() {
            Map<String, Integer> counts = new java.util.HashMap<>();
            registrations.forEach((name, count) -> counts.put(name, count.get()));
            return counts;
        }

        Object value(String name) {
            Gauge<?> gauge = gauges.get(name);
            assertThat(gauge).as("gauge %s", name).isNotNull();
            return gauge.getValue();
        }
    }
}
