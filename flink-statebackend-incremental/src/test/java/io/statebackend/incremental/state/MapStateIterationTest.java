package io.statebackend.incremental.state;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.PerfContext;
import org.rocksdb.PerfLevel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Map state iteration reads in batches and reads point lookups into reused buffers: maps larger
 * than a batch, keys whose bytes are all 0xFF next to others, entries removed or changed while
 * iterating, and values larger than any read before.
 */
class MapStateIterationTest {

    private static final int[] KEYS = {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE};
    private static final int ENTRIES = 300;

    @TempDir Path tempDir;

    private MockEnvironment env;
    private IncrementalRocksDBKeyedStateBackend<Integer> backend;
    private MapState<Long, String> map;

    @BeforeEach
    void open() throws Exception {
        env = MockEnvironment.builder().build();
        backend = KeyedBackends.createEmpty(env, tempDir, IntSerializer.INSTANCE);
        map =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE,
                        new MapStateDescriptor<>(
                                "map", LongSerializer.INSTANCE, StringSerializer.INSTANCE));
    }

    @AfterEach
    void close() throws Exception {
        backend.dispose();
        env.close();
    }

    @Test
    void iteratesExactlyTheEntriesOfEachKeyAcrossBatches() throws Exception {
        Map<Integer, Map<Long, String>> expected = fill();
        backend.flush();
        // some entries in the memtable, over those in the file
        for (int key : KEYS) {
            backend.setCurrentKey(key);
            map.put(-1L, "again " + key);
            expected.get(key).put(-1L, "again " + key);
        }
        for (int key : KEYS) {
            backend.setCurrentKey(key);
            assertThat(read()).isEqualTo(expected.get(key));
            List<Long> keys = new ArrayList<>();
            map.keys().forEach(keys::add);
            assertThat(keys).containsExactlyInAnyOrderElementsOf(expected.get(key).keySet());
            List<String> values = new ArrayList<>();
            map.values().forEach(values::add);
            assertThat(values).containsExactlyInAnyOrderElementsOf(expected.get(key).values());
        }
    }

    @Test
    void removesAndUpdatesThroughTheIteratorAcrossBatches() throws Exception {
        Map<Integer, Map<Long, String>> expected = fill();
        backend.setCurrentKey(-1);
        Map<Long, String> mine = expected.get(-1);
        int index = 0;
        for (Iterator<Map.Entry<Long, String>> it = map.iterator(); it.hasNext(); index++) {
            Map.Entry<Long, String> entry = it.next();
            if (index % 2 == 0) {
                it.remove();
                assertThat(entry.getValue()).isNull();
                mine.remove(entry.getKey());
            } else if (index % 3 == 0) {
                assertThat(entry.setValue("changed")).isEqualTo(mine.get(entry.getKey()));
                mine.put(entry.getKey(), "changed");
            }
        }
        assertThat(index).isEqualTo(ENTRIES);
        assertThat(read()).isEqualTo(mine);
        for (int key : KEYS) {
            backend.setCurrentKey(key);
            assertThat(read()).isEqualTo(expected.get(key));
        }
    }

    @Test
    void resumesAfterTheLastEntryOfABatchWasRemoved() throws Exception {
        Map<Integer, Map<Long, String>> expected = fill();
        backend.setCurrentKey(0);
        Iterator<Long> keys = map.keys().iterator();
        List<Long> seen = new ArrayList<>();
        for (int i = 0; i < 128; i++) {
            seen.add(keys.next());
        }
        // the last key of the first batch goes away before the next batch is read
        map.remove(seen.get(127));
        keys.forEachRemaining(seen::add);
        assertThat(seen).doesNotHaveDuplicates().hasSize(ENTRIES);
        expected.get(0).remove(seen.get(127));
        assertThat(read()).isEqualTo(expected.get(0));
    }

    @Test
    void pointReadsOfValuesLargerThanTheReusedBuffer() throws Exception {
        backend.setCurrentKey(1);
        StringBuilder value = new StringBuilder();
        for (int length : new int[] {10, 200, 5000, 100_000, 20}) {
            value.setLength(0);
            for (int i = 0; i < length; i++) {
                value.append((char) ('a' + i % 26));
            }
            map.put((long) length, value.toString());
            assertThat(map.get((long) length)).isEqualTo(value.toString());
            assertThat(map.contains((long) length)).isTrue();
        }
        assertThat(map.get(10L)).hasSize(10);
        assertThat(map.get(100_000L)).hasSize(100_000);
        map.put(7L, null);
        assertThat(map.contains(7L)).isTrue();
        assertThat(map.get(7L)).isNull();
        assertThat(map.contains(8L)).isFalse();
        assertThat(map.get(8L)).isNull();
    }

    /**
     * Reads of one key's map end with its entries: the tombstones that clearing the map of the next
     * key left behind are not skipped by an iteration, {@code isEmpty()} or {@code clear()}.
     */
    @Test
    void readsOfAMapDoNotSkipTheTombstonesOfTheNextKey() throws Exception {
        int key = 0;
        int next = key + 1;
        while (KeyGroupRangeAssignment.assignToKeyGroup(
                        next, IncrementalTestHarness.MAX_PARALLELISM)
                != KeyGroupRangeAssignment.assignToKeyGroup(
                        key, IncrementalTestHarness.MAX_PARALLELISM)) {
            next++;
        }
        backend.setCurrentKey(next);
        for (long i = 0; i < 2_000; i++) {
            map.put(i, "cleared");
        }
        map.clear();
        backend.setCurrentKey(key);
        map.put(1L, "one");
        map.put(2L, "two");

        PerfContext perf = backend.getDb().getPerfContext();
        backend.getDb().setPerfLevel(PerfLevel.ENABLE_COUNT);
        try {
            perf.reset();
            assertThat(read()).containsOnlyKeys(1L, 2L);
            assertThat(perf.getInternalDeleteSkippedCount()).as("skipped by an iteration").isZero();

            perf.reset();
            assertThat(map.isEmpty()).isFalse();
            assertThat(perf.getInternalDeleteSkippedCount()).as("skipped by isEmpty()").isZero();

            perf.reset();
            map.clear();
            assertThat(perf.getInternalDeleteSkippedCount()).as("skipped by clear()").isZero();
        } finally {
            backend.getDb().setPerfLevel(PerfLevel.DISABLE);
        }
        assertThat(map.isEmpty()).isTrue();
        backend.setCurrentKey(next);
        assertThat(map.isEmpty()).isTrue();
    }

    private Map<Integer, Map<Long, String>> fill() throws Exception {
        Map<Integer, Map<Long, String>> expected = new HashMap<>();
        for (int key : KEYS) {
            backend.setCurrentKey(key);
            Map<Long, String> entries = new HashMap<>();
            for (long userKey = -3; userKey < ENTRIES - 5; userKey++) {
                entries.put(userKey, key + "/" + userKey);
            }
            entries.put(Long.MIN_VALUE, null);
            entries.put(Long.MAX_VALUE, "max");
            map.putAll(entries);
            expected.put(key, entries);
        }
        return expected;
    }

    private Map<Long, String> read() throws Exception {
        Map<Long, String> entries = new HashMap<>();
        for (Map.Entry<Long, String> entry : map.entries()) {
            assertThat(entries.put(entry.getKey(), entry.getValue())).isNull();
        }
        return entries;
    }
}
