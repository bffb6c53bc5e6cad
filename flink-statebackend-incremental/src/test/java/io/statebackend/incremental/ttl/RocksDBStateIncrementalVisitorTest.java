package io.statebackend.incremental.ttl;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.StateEntry;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.internal.InternalKvState;
import org.apache.flink.runtime.state.internal.InternalKvState.StateIncrementalVisitor;
import org.apache.flink.runtime.state.internal.InternalListState;
import org.apache.flink.runtime.state.internal.InternalMapState;
import org.apache.flink.runtime.state.internal.InternalValueState;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksIterator;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The incremental visitor over a column family, and TTL's incremental cleanup through it. */
class RocksDBStateIncrementalVisitorTest {

    private static final int KEY_GROUPS = 128;

    @TempDir Path tempDir;

    private final ManualTtlTime time = new ManualTtlTime();
    private MockEnvironment env;
    private IncrementalRocksDBKeyedStateBackend<Integer> backend;

    @BeforeEach
    void setUp() throws Exception {
        env = MockEnvironment.builder().build();
        backend =
                KeyedBackends.create(
                        new IncrementalRocksDBStateBackend()
                                .withLocalDirectories(tempDir.resolve("local").toString()),
                        env,
                        IntSerializer.INSTANCE,
                        KEY_GROUPS,
                        time);
    }

    @AfterEach
    void tearDown() throws Exception {
        backend.dispose();
        env.close();
    }

    /**
     * The scenario of the suite's {@code testIncrementalCleanupWholeState}, checked by a scan of
     * the column family instead of the heap state table.
     */
    @Test
    void cleansWholeStateLikeTheSuite() throws Exception {
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(
                StateTtlConfig.newBuilder(Duration.ofMillis(100))
                        .cleanupIncrementally(5, true)
                        .disableCleanupInBackground()
                        .build());
        ValueState<String> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
        assertThat(backend.getTtlCleanup().isActive()).isFalse();
        time.now = 0;
        for (int key = 0; key < 970; key++) {
            backend.setCurrentKey(key);
            state.update("v");
        }
        time.now = 120;
        // selecting keys is enough: the cleanup runs for every record
        for (int key = 0; key < 970; key++) {
            backend.setCurrentKey(key);
        }
        assertThat(countEntries("values")).isZero();
    }

    @Test
    void resumesAfterTheLastKeyWrapsAroundAndSeesChanges() throws Exception {
        InternalValueState<Integer, VoidNamespace, String> state = valueState();
        for (int key = 0; key < 10; key++) {
            backend.setCurrentKey(key);
            state.update("v" + key);
        }
        StateIncrementalVisitor<Integer, VoidNamespace, String> visitor =
                state.getStateIncrementalVisitor(3);

        List<Integer> firstLap = new ArrayList<>();
        while (firstLap.size() < 10) {
            for (StateEntry<Integer, VoidNamespace, String> entry : visitor.nextEntries()) {
                firstLap.add(entry.getKey());
                assertThat(entry.getState()).isEqualTo("v" + entry.getKey());
                assertThat(entry.getNamespace()).isEqualTo(VoidNamespace.INSTANCE);
            }
        }
        assertThat(firstLap).doesNotHaveDuplicates().hasSize(10);

        // the database changes between calls: one key goes, another comes
        backend.setCurrentKey(firstLap.get(0));
        state.clear();
        backend.setCurrentKey(100);
        state.update("v100");

        List<Integer> secondLap = new ArrayList<>();
        while (secondLap.size() < 10) {
            for (StateEntry<Integer, VoidNamespace, String> entry : visitor.nextEntries()) {
                secondLap.add(entry.getKey());
            }
        }
        assertThat(secondLap).doesNotContain(firstLap.get(0)).contains(100);
        assertThat(visitor.hasNext()).isTrue();
    }

    @Test
    void reportsNoMoreEntriesOnlyForAnEmptyState() throws Exception {
        InternalValueState<Integer, VoidNamespace, String> state = valueState();
        StateIncrementalVisitor<Integer, VoidNamespace, String> visitor =
                state.getStateIncrementalVisitor(5);
        assertThat(visitor.hasNext()).isTrue();
        assertThat(visitor.nextEntries()).isEmpty();
        assertThat(visitor.hasNext()).isFalse();
    }

    @Test
    void mapStateEntriesArePerKeyAndNamespaceAndTouchOnlyWhatWasRead() throws Exception {
        MapStateDescriptor<String, Integer> descriptor =
                new MapStateDescriptor<>("map", String.class, Integer.class);
        InternalMapState<Integer, VoidNamespace, String, Integer> state =
                (InternalMapState<Integer, VoidNamespace, String, Integer>)
                        backend.getPartitionedState(
                                VoidNamespace.INSTANCE,
                                VoidNamespaceSerializer.INSTANCE,
                                descriptor);
        backend.setCurrentKey(1);
        state.put("a", 1);
        state.put("b", 2);
        state.put("c", 3);
        backend.setCurrentKey(2);
        state.put("x", 10);
        state.put("y", 20);

        StateIncrementalVisitor<Integer, VoidNamespace, Map<String, Integer>> visitor =
                state.getStateIncrementalVisitor(10);
        Collection<StateEntry<Integer, VoidNamespace, Map<String, Integer>>> entries =
                visitor.nextEntries();
        Map<Integer, Map<String, Integer>> byKey = new HashMap<>();
        for (StateEntry<Integer, VoidNamespace, Map<String, Integer>> entry : entries) {
            byKey.put(entry.getKey(), entry.getState());
        }
        assertThat(byKey)
                .containsEntry(1, Map.of("a", 1, "b", 2, "c", 3))
                .containsEntry(2, Map.of("x", 10, "y", 20));

        // a user key added after the entries were read survives their removal
        backend.setCurrentKey(2);
        state.put("z", 30);
        for (StateEntry<Integer, VoidNamespace, Map<String, Integer>> entry : entries) {
            if (entry.getKey() == 1) {
                Map<String, Integer> kept = new HashMap<>(entry.getState());
                kept.remove("b");
                kept.put("c", 33);
                visitor.update(entry, kept);
            } else {
                visitor.remove(entry);
            }
        }
        backend.setCurrentKey(1);
        assertThat(state.entries())
                .containsExactlyInAnyOrderElementsOf(Map.of("a", 1, "c", 33).entrySet());
        backend.setCurrentKey(2);
        assertThat(state.entries()).containsExactlyInAnyOrderElementsOf(Map.of("z", 30).entrySet());
    }

    /**
     * Entries handed out earlier may be stale by the time the caller removes or updates them: the
     * task may have rewritten them in between. Such an entry must be left as the task wrote it.
     */
    @Test
    @SuppressWarnings("unchecked")
    void leavesEntriesTheTaskChangedAfterTheyWereRead() throws Exception {
        InternalValueState<Integer, VoidNamespace, String> values = valueState();
        InternalListState<Integer, VoidNamespace, String> lists =
                (InternalListState<Integer, VoidNamespace, String>)
                        backend.getPartitionedState(
                                VoidNamespace.INSTANCE,
                                VoidNamespaceSerializer.INSTANCE,
                                new ListStateDescriptor<>("lists", String.class));
        for (int key = 0; key < 10; key++) {
            backend.setCurrentKey(key);
            values.update("v" + key);
            lists.add("a" + key);
        }
        StateIncrementalVisitor<Integer, VoidNamespace, String> valueVisitor =
                values.getStateIncrementalVisitor(10);
        StateIncrementalVisitor<Integer, VoidNamespace, List<String>> listVisitor =
                lists.getStateIncrementalVisitor(10);
        Collection<StateEntry<Integer, VoidNamespace, String>> valueEntries =
                valueVisitor.nextEntries();
        Collection<StateEntry<Integer, VoidNamespace, List<String>>> listEntries =
                listVisitor.nextEntries();
        assertThat(valueEntries).hasSize(10);
        assertThat(listEntries).hasSize(10);

        // the task writes keys 3 and 4 after the visitor read them, and clears key 5
        for (int key = 3; key <= 4; key++) {
            backend.setCurrentKey(key);
            values.update("new" + key);
            lists.add("b" + key);
        }
        backend.setCurrentKey(5);
        values.clear();
        lists.clear();

        for (StateEntry<Integer, VoidNamespace, String> entry : valueEntries) {
            if (entry.getKey() % 2 == 0) {
                valueVisitor.remove(entry);
            } else {
                valueVisitor.update(entry, "updated" + entry.getKey());
            }
        }
        for (StateEntry<Integer, VoidNamespace, List<String>> entry : listEntries) {
            if (entry.getKey() % 2 == 0) {
                listVisitor.remove(entry);
            } else {
                listVisitor.update(entry, List.of("updated" + entry.getKey()));
            }
        }

        for (int key = 0; key < 10; key++) {
            backend.setCurrentKey(key);
            if (key == 3 || key == 4) {
                assertThat(values.value()).as("value of key %s", key).isEqualTo("new" + key);
                assertThat(lists.get())
                        .as("list of key %s", key)
                        .containsExactly("a" + key, "b" + key);
            } else if (key % 2 == 0 || key == 5) {
                assertThat(values.value()).as("value of key %s", key).isNull();
                assertThat(lists.get()).as("list of key %s", key).isNull();
            } else {
                assertThat(values.value()).isEqualTo("updated" + key);
                assertThat(lists.get()).containsExactly("updated" + key);
            }
        }
    }

    @Test
    void defaultBackgroundConfigIsLeftToTheBackgroundCleanup() throws Exception {
        ValueStateDescriptor<String> descriptor =
                new ValueStateDescriptor<>("values", String.class);
        descriptor.enableTimeToLive(StateTtlConfig.newBuilder(Duration.ofMillis(100)).build());
        // the state the runtime's TTL wrapper asks for a visitor
        descriptor.initializeSerializerUnlessSet(new org.apache.flink.api.common.ExecutionConfig());
        InternalKvState<?, ?, ?> original = originalState(descriptor);
        assertThatThrownBy(() -> original.getStateIncrementalVisitor(5))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThat(backend.getTtlCleanup().isActive()).isTrue();
    }

    @SuppressWarnings("unchecked")
    private InternalValueState<Integer, VoidNamespace, String> valueState() throws Exception {
        return (InternalValueState<Integer, VoidNamespace, String>)
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE,
                        new ValueStateDescriptor<>("plain", String.class));
    }

    private InternalKvState<?, ?, ?> originalState(ValueStateDescriptor<String> descriptor)
            throws Exception {
        return (InternalKvState<?, ?, ?>)
                backend.createOrUpdateInternalState(VoidNamespaceSerializer.INSTANCE, descriptor);
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
