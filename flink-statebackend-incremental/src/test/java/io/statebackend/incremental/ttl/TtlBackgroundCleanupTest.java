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
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksIterator;
import org.rocksdb.TableProperties;

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
        // a clock that stands still: slices take no time, so one is due at every clock read
        // (every 16 records) and the tests do not depend on the machine's speed
        backend.getTtlCleanup().setPaceClock(() -> 0L);
        return backend;
    }

    /** The value state "values" with the default TTL config, whose cleanup is in the background. */
    private ValueState<String> valuesWithDefaultTtl() throws Exception {
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(defaultTtl());
        return backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
    }

    /** Writes keys {@code 0..count-1} at time 0, each with {@code prefix} and its number. */
    private void writeKeysAtTimeZero(ValueState<String> state, int count, String prefix)
            throws Exception {
        time.now = 0;
        for (int key = 0; key < count; key++) {
            backend.setCurrentKey(key);
            state.update(prefix + key);
        }
    }

    private static StateTtlConfig defaultTtl() {
        // background cleanup is on by default
        return StateTtlConfig.newBuilder(Duration.ofMillis(TTL)).build();
    }

    @Test
    void keysNeverReadAgainDisappearWhileRewrittenOnesSurvive() throws Exception {
        createBackend(true);
        ValueState<String> state = valuesWithDefaultTtl();

        int written = 20_000;
        writeKeysAtTimeZero(state, written, "first-");
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
    void paceIdlesAfterAnEmptyPassAndResumesWhenSomethingExpires() throws Exception {
        createBackend(true);
        ValueState<String> state = valuesWithDefaultTtl();
        writeKeysAtTimeZero(state, 5_000, "v");
        TtlBackgroundCleanup cleanup = backend.getTtlCleanup();
        // a pass that finds nothing expired (here already while the keys were written) sets the
        // idle pace
        int records = 0;
        while (!cleanup.isIdle() && records < 1_000_000) {
            backend.setCurrentKey(records++ % 5_000);
        }
        assertThat(cleanup.isIdle()).isTrue();
        assertThat(countEntries("values")).isEqualTo(5_000);

        time.now = 150;
        for (int i = 0; i < 64; i++) {
            backend.setCurrentKey(10_000 + i);
        }
        assertThat(cleanup.isIdle()).isFalse();
        assertThat(countEntries("values")).isLessThan(5_000);
    }

    /**
     * A task that gets no records runs no slices per record; completed checkpoints clean its
     * expired entries, within a bounded number of slices each.
     */
    @Test
    void checkpointsCleanATaskThatGetsNoRecords() throws Exception {
        createBackend(true);
        ValueState<String> state = valuesWithDefaultTtl();
        int written = 20_000;
        writeKeysAtTimeZero(state, written, "v");
        time.now = 150;
        assertThat(countEntries("values")).isEqualTo(written);

        // no records from here on
        backend.notifyCheckpointComplete(1);
        int afterOne = countEntries("values");
        int perNotification =
                TtlBackgroundCleanup.MAX_SLICES_PER_NOTIFICATION
                        * TtlBackgroundCleanup.ENTRIES_PER_SLICE;
        assertThat(afterOne).isLessThan(written).isGreaterThanOrEqualTo(written - perNotification);
        long checkpoint = 2;
        while (countEntries("values") > 0 && checkpoint < 100) {
            backend.notifyCheckpointComplete(checkpoint++);
        }
        assertThat(countEntries("values")).isZero();
    }

    /** Slices that are not due yet do not run on a checkpoint notification either. */
    @Test
    void checkpointsRunOnlySlicesThatAreDue() throws Exception {
        createBackend(true);
        ValueState<String> state = valuesWithDefaultTtl();
        writeKeysAtTimeZero(state, 1_000, "v");
        time.now = 150;
        // every slice takes a second on this clock, so the next is due 24 seconds after it
        long[] nanos = {0};
        backend.getTtlCleanup().setPaceClock(() -> nanos[0] += 1_000_000_000L);
        backend.notifyCheckpointComplete(1);
        int afterFirst = countEntries("values");
        assertThat(afterFirst).isLessThan(1_000);
        backend.notifyCheckpointComplete(2);
        assertThat(countEntries("values")).isEqualTo(afterFirst);
    }

    /**
     * Live keys of one key group lie between expired keys of others: a run of live keys must not
     * slow down the cleaning of the expired keys after it.
     */
    @Test
    void liveRunsInTheKeyOrderDoNotSlowTheCleanup() throws Exception {
        createBackend(true);
        ValueState<String> state = valuesWithDefaultTtl();
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
        // the first keys have expired, the others not; the pace may idle only after a whole pass
        // found nothing, so by then every expired key is gone (judged by single slices, the first
        // slice of live keys would idle it with expired keys still ahead)
        time.now = 150;
        TtlBackgroundCleanup cleanup = backend.getTtlCleanup();
        int records = 0;
        while (!cleanup.isIdle() && records < 1_000_000) {
            backend.setCurrentKey(10_000 + records++ % 100_000);
        }
        assertThat(cleanup.isIdle()).isTrue();
        assertThat(countEntries("values")).isEqualTo(100_000);
    }

    /**
     * Runs of expired entries go with range tombstones, short runs with point deletes; the live
     * entries right before and after a run stay.
     */
    @Test
    void runsOfExpiredEntriesGoInRangesAndTheirLiveNeighboursStay() throws Exception {
        createBackend(true);
        ValueState<String> state = valuesWithDefaultTtl();
        int keys = 4_000;
        writeKeysAtTimeZero(state, keys, "old-");
        // every tenth key is rewritten later and stays live; in the key order (key group first)
        // the live keys fall at random places, so runs of expired keys of every length occur
        time.now = 80;
        for (int key = 3; key < keys; key += 10) {
            backend.setCurrentKey(key);
            state.update("live-" + key);
        }
        // a pass over 4,000 entries takes 16 slices, 256 records: these are several passes
        time.now = 150;
        for (int i = 0; i < 2_000; i++) {
            backend.setCurrentKey(100_000 + i);
        }

        assertThat(countEntries("values")).isEqualTo(keys / 10);
        ColumnFamilyHandle columnFamily = backend.getColumnFamily("values");
        try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            backend.getDb().flush(flush, columnFamily);
        }
        long rangeDeletions = 0;
        long deletions = 0;
        for (TableProperties table :
                backend.getDb().getPropertiesOfAllTables(columnFamily).values()) {
            rangeDeletions += table.getNumRangeDeletions();
            deletions += table.getNumDeletions();
        }
        assertThat(rangeDeletions).isPositive();
        // point deletes of the short runs (the count includes the range deletions)
        assertThat(deletions).isGreaterThan(rangeDeletions);
        time.now = 100;
        for (int key = 0; key < keys; key++) {
            backend.setCurrentKey(key);
            assertThat(state.value()).isEqualTo(key % 10 == 3 ? "live-" + key : null);
        }
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
        for (int i = 0; i < 10 * CleanupPace.RECORDS_PER_CLOCK_READ; i++) {
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
        ValueState<String> state = valuesWithDefaultTtl();
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
