package io.statebackend.incremental.timers;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.options.OptionsFile;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;
import org.apache.flink.streaming.api.operators.TimerSerializer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The column families of Flink's timer services get a memtable insert hint per key group, in a new
 * database and in a restored one; other column families do not.
 */
class TimerInsertHintTest {

    private static final String HINT = "memtable_insert_with_hint_prefix_extractor";
    private static final String EVENT_TIMERS = "_timer_state/event_window-timers";
    private static final String OTHER_QUEUE = "sorted-elements";

    @TempDir Path tempDir;

    @Test
    void timerQueuesGetTheHintAlsoAfterARestore() throws Exception {
        try (IncrementalTestHarness harness =
                new IncrementalTestHarness(tempDir.resolve("local"))) {
            IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
            KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Long, VoidNamespace>> timers =
                    queue(backend, EVENT_TIMERS);
            queue(backend, OTHER_QUEUE);
            for (int key = 0; key < 100; key++) {
                timers.add(
                        new TimerHeapInternalTimer<>(
                                1000L - key, (long) key, VoidNamespace.INSTANCE));
                IncrementalTestHarness.put(backend, key, "v" + key);
            }
            assertHints(backend, "rocksdb.FixedPrefix.1");

            IncrementalRemoteKeyedStateHandle handle =
                    harness.checkpoint(
                            backend, 1, TestStreamFactories.files(tempDir.resolve("storage")));
            harness.register(handle);
            harness.dispose(backend);

            IncrementalRocksDBKeyedStateBackend<Integer> restored =
                    harness.createBackend(
                            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1),
                            Collections.singletonList(handle));
            assertHints(restored, "rocksdb.FixedPrefix.1");
            KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Long, VoidNamespace>>
                    restoredTimers = queue(restored, EVENT_TIMERS);
            for (int key = 99; key >= 0; key--) {
                TimerHeapInternalTimer<Long, VoidNamespace> timer = restoredTimers.poll();
                assertThat(timer.getTimestamp()).isEqualTo(1000 - key);
                assertThat(timer.getKey()).isEqualTo((long) key);
            }
            assertThat(restoredTimers.poll()).isNull();
        }
    }

    @Test
    void twoBytePrefixesForMoreThan128KeyGroups() throws Exception {
        try (MockEnvironment env = MockEnvironment.builder().build()) {
            IncrementalRocksDBKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(
                            new IncrementalRocksDBStateBackend(true)
                                    .withLocalDirectories(tempDir.resolve("local").toString()),
                            env,
                            IntSerializer.INSTANCE,
                            1000,
                            new KeyGroupRange(0, 999),
                            Collections.emptyList());
            try {
                queue(backend, EVENT_TIMERS);
                queue(backend, OTHER_QUEUE);
                IncrementalTestHarness.put(backend, 1, "v");
                assertHints(backend, "rocksdb.FixedPrefix.2");
            } finally {
                backend.dispose();
            }
        }
    }

    private static void assertHints(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, String timerHint)
            throws IOException {
        OptionsFile options = OptionsFile.newestIn(backend.getRocksDBInstance().getPath());
        assertThat(options.get(OptionsFile.columnFamily(EVENT_TIMERS), HINT)).isEqualTo(timerHint);
        for (String other :
                List.of(OTHER_QUEUE, IncrementalTestHarness.STATE.getName(), "default")) {
            assertThat(options.get(OptionsFile.columnFamily(other), HINT))
                    .as("the hint of %s", other)
                    .isEqualTo("nullptr");
        }
    }

    private static KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Long, VoidNamespace>>
            queue(IncrementalRocksDBKeyedStateBackend<Integer> backend, String name) {
        return backend.create(
                name,
                new TimerSerializer<>(LongSerializer.INSTANCE, VoidNamespaceSerializer.INSTANCE));
    }
}
