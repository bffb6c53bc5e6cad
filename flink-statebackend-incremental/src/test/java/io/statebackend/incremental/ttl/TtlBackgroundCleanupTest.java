package io.statebackend.incremental.ttl;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBSettings;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksIterator;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** TTL's background cleanup: keys never read again go, keys rewritten meanwhile stay. */
class TtlBackgroundCleanupTest {

    private static final int KEY_GROUPS = 128;
    private static final long TTL = 100;

    @TempDir Path tempDir;

    private final ManualTtlTime time = new ManualTtlTime();
    private MockEnvironment env;
    private IncrementalRocksDBKeyedStateBackend<Integer> backend;

    @BeforeEach
    void setUp() {
        env = MockEnvironment.builder().build();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (backend != null) {
            backend.dispose();
        }
        env.close();
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(boolean backgroundCleanup)
            throws Exception {
        Configuration config = new Configuration();
        config.set(IncrementalRocksDBOptions.TTL_BACKGROUND_CLEANUP, backgroundCleanup);
        IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend()
                        .withLocalDirectories(tempDir.resolve("local").toString())
                        .configure(config, getClass().getClassLoader());
        backend = KeyedBackends.create(stateBackend, env, IntSerializer.INSTANCE, KEY_GROUPS, time);
        return backend;
    }

    private static StateTtlConfig defaultTtl() {
        // background cleanup is on by default
        return StateTtlConfig.newBuilder(Duration.ofMillis(TTL)).build();
    }

    @Test
    void keysNeverReadAgainDisappearWhileRewrittenOnesSurvive() throws Exception {
        createBackend(true);
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(defaultTtl());
        ValueState<String> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);

        int written = 20_000;
        time.now = 0;
        for (int key = 0; key < written; key++) {
            backend.setCurrentKey(key);
            state.update("first-" + key);
        }
        assertThat(countEntries("values")).isEqualTo(written);

        // every entry written so far is expired; the task writes other keys and, interleaved
        // with the cleanup's slices, rewrites some of the expired keys
        time.now = 150;
        Map<Integer, String> rewritten = new HashMap<>();
        int records = 4 * written;
        for (int i = 0; i < records; i++) {
            backend.setCurrentKey(written + i);
            state.update("other-" + i);
            if (i % 7 == 0) {
                int key = (int) ((i * 7919L) % written);
                String value = "rewritten-" + key + "-" + i;
                backend.setCurrentKey(key);
                state.update(value);
                rewritten.put(key, value);
            }
        }

        assertThat(rewritten).hasSizeGreaterThan(1000);
        assertThat(countEntries("values")).isEqualTo(records + rewritten.size());
        for (int key = 0; key < written; key++) {
            backend.setCurrentKey(key);
            assertThat(state.value()).isEqualTo(rewritten.get(key));
        }
    }

    @Test
    void paceSlowsWhileNothingExpiresAndQuickensWhenSomethingDoes() throws Exception {
        createBackend(true);
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(defaultTtl());
        ValueState<String> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
        time.now = 0;
        for (int key = 0; key < 5_000; key++) {
            backend.setCurrentKey(key);
            state.update("v" + key);
        }
        TtlBackgroundCleanup cleanup = backend.getTtlCleanup();
        // a lap that finds nothing expired (here already while the keys were written) sets the
        // slowest pace
        int records = 0;
        while (cleanup.getRecordsPerSlice() < TtlBackgroundCleanup.MAX_RECORDS_PER_SLICE
                && records < 1_000_000) {
            backend.setCurrentKey(records++ % 5_000);
        }
        assertThat(cleanup.getRecordsPerSlice())
                .isEqualTo(TtlBackgroundCleanup.MAX_RECORDS_PER_SLICE);
        assertThat(countEntries("values")).isEqualTo(5_000);

        time.now = 150;
        for (int i = 0; i < 2 * TtlBackgroundCleanup.MAX_RECORDS_PER_SLICE; i++) {
            backend.setCurrentKey(10_000 + i);
        }
        assertThat(cleanup.getRecordsPerSlice())
                .isEqualTo(TtlBackgroundCleanup.MIN_RECORDS_PER_SLICE);
        assertThat(countEntries("values")).isLessThan(5_000);
    }

    /**
     * Live keys of one key group lie between expired keys of others: a run of live keys must not
     * slow down the cleaning of the expired keys after it.
     */
    @Test
    void liveRunsInTheKeyOrderDoNotSlowTheCleanup() throws Exception {
        createBackend(true);
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(defaultTtl());
        ValueState<String> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
        time.now = 0;
        for (int key = 0; key < 10_000; key++) {
            backend.setCurrentKey(key);
            state.update("old");
        }
        // in every key group the live keys follow the expired ones, a run of about 12 slices
        time.now = 100;
        for (int key = 10_000; key < 110_000; key++) {
            backend.setCurrentKey(key);
            state.update("live");
        }
        // the first keys have expired, the others not; at full pace (64 entries per 32 records)
        // a lap over 110,000 entries takes 55,000 records: this is nearly three laps
        time.now = 150;
        for (int i = 0; i < 150_000; i++) {
            backend.setCurrentKey(10_000 + i % 100_000);
        }
        assertThat(countEntries("values")).isEqualTo(100_000);
    }

    @Test
    void mapAndListStatesLoseOnlyTheirExpiredElements() throws Exception {
        createBackend(true);
        MapStateDescriptor<String, String> mapDescriptor =
                new MapStateDescriptor<>("map", String.class, String.class);
        mapDescriptor.enableTimeToLive(defaultTtl());
        ListStateDescriptor<String> listDescriptor =
                new ListStateDescriptor<>("list", String.class);
        listDescriptor.enableTimeToLive(defaultTtl());
        MapState<String, String> map =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, mapDescriptor);
        ListState<String> list =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, listDescriptor);

        backend.setCurrentKey(1);
        time.now = 0;
        map.put("old", "a");
        list.add("old");
        time.now = 80;
        map.put("new", "b");
        list.add("new");
        backend.setCurrentKey(2);
        time.now = 0;
        map.put("gone", "c");
        list.add("gone");

        time.now = 150;
        for (int i = 0; i < 10 * TtlBackgroundCleanup.MAX_RECORDS_PER_SLICE; i++) {
            backend.setCurrentKey(1000 + i);
        }

        assertThat(countEntries("map")).isEqualTo(1);
        assertThat(countEntries("list")).isEqualTo(1);
        backend.setCurrentKey(1);
        assertThat(map.get("new")).isEqualTo("b");
        assertThat(list.get()).containsExactly("new");
    }

    @Test
    void switchedOffLeavesExpiredEntries() throws Exception {
        createBackend(false);
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(defaultTtl());
        ValueState<String> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
        time.now = 0;
        for (int key = 0; key < 100; key++) {
            backend.setCurrentKey(key);
            state.update("v");
        }
        time.now = 150;
        for (int i = 0; i < 10_000; i++) {
            backend.setCurrentKey(1000 + i);
        }
        assertThat(backend.getTtlCleanup().isActive()).isFalse();
        assertThat(countEntries("values")).isEqualTo(100);
    }

    @Test
    void statesWithoutBackgroundCleanupAreNotScanned() throws Exception {
        createBackend(true);
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(
                StateTtlConfig.newBuilder(Duration.ofMillis(TTL))
                        .disableCleanupInBackground()
                        .build());
        backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
        assertThat(backend.getTtlCleanup().isActive()).isFalse();
    }

    @Test
    void wrongSwitchValueFailsNamingKeyAndValue() {
        Configuration config = new Configuration();
        config.setString(IncrementalRocksDBOptions.TTL_BACKGROUND_CLEANUP.key(), "sometimes");
        assertThatThrownBy(() -> IncrementalRocksDBSettings.fromConfig(config))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining(IncrementalRocksDBOptions.TTL_BACKGROUND_CLEANUP.key())
                .hasMessageContaining("sometimes");
        assertThat(
                        IncrementalRocksDBSettings.fromConfig(new Configuration())
                                .isTtlBackgroundCleanup())
                .isTrue();
    }

    private int countEntries(String stateName) {
        int count = 0;
        try (RocksIterator iterator =
                backend.getDb()
                        .newIterator(
                                backend.getColumnFamily(stateName), backend.getReadOptions())) {
            for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                count++;
            }
        }
        return count;
    }
}
