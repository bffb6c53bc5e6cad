package io.statebackend.incremental.lifecycle;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Key streams ({@code getKeys}, {@code getKeysAndNamespaces}) hold native RocksDB iterators. A user
 * who forgets to close one must not make dispose close the database under it: dispose closes the
 * iterators first, and a stream used afterwards fails with an exception instead of reading freed
 * native memory (DESIGN.md §8).
 */
class KeyStreamsOnDisposeTest {

    private static final int MAX_PARALLELISM = 128;
    private static final int KEYS = 1_000;

    @TempDir Path tempDir;

    private MockEnvironment env;

    @BeforeEach
    void setUp() {
        env = MockEnvironment.builder().setManagedMemorySize(64L << 20).build();
    }

    @AfterEach
    void tearDown() throws Exception {
        env.close();
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend() throws Exception {
        return KeyedBackends.create(
                new IncrementalRocksDBStateBackend(true)
                        .withLocalDirectories(tempDir.resolve("local").toString()),
                env,
                IntSerializer.INSTANCE,
                MAX_PARALLELISM,
                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                Collections.emptyList(),
                1.0,
                new CloseableRegistry());
    }

    @Test
    void disposeClosesKeyStreamsLeftOpen() throws Exception {
        final int instancesBefore = RocksDBInstance.openInstances();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend();
        try {
            ValueState<String> values =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            new ValueStateDescriptor<>("values", StringSerializer.INSTANCE));
            MapState<Integer, String> maps =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            new MapStateDescriptor<>(
                                    "maps", IntSerializer.INSTANCE, StringSerializer.INSTANCE));
            for (int key = 0; key < KEYS; key++) {
                backend.setCurrentKey(key);
                values.update("v" + key);
                maps.put(key, "m" + key);
                maps.put(-key, "n" + key);
            }

            // none of these is closed
            Stream<Integer> untouched = backend.getKeys("values", VoidNamespace.INSTANCE);
            Iterator<Integer> halfRead = backend.getKeys("maps", VoidNamespace.INSTANCE).iterator();
            for (int i = 0; i < KEYS / 2; i++) {
                halfRead.next();
            }
            Iterator<Tuple2<Integer, VoidNamespace>> pairs =
                    backend.<VoidNamespace>getKeysAndNamespaces("values").iterator();
            assertThat(pairs.hasNext()).isTrue();
            // a stream read to its end closes its iterator by itself
            assertThat(backend.getKeys("values", VoidNamespace.INSTANCE).count()).isEqualTo(KEYS);

            backend.dispose();

            assertThat(RocksDBInstance.openInstances())
                    .as("the database is closed")
                    .isEqualTo(instancesBefore);
            assertThatThrownBy(halfRead::hasNext)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("disposed");
            assertThatThrownBy(halfRead::next).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> untouched.iterator().hasNext())
                    .isInstanceOf(IllegalStateException.class);
            // the element read ahead by hasNext() before dispose is still handed out
            assertThat(pairs.next().f0).isNotNull();
            assertThatThrownBy(pairs::hasNext).isInstanceOf(IllegalStateException.class);
            // closing them late is harmless
            untouched.close();
        } finally {
            backend.dispose();
        }
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
    }

    @Test
    void closedStreamsAreForgotten() throws Exception {
        final int instancesBefore = RocksDBInstance.openInstances();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend();
        try {
            ValueState<String> values =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            new ValueStateDescriptor<>("values", StringSerializer.INSTANCE));
            for (int key = 0; key < 10; key++) {
                backend.setCurrentKey(key);
                values.update("v" + key);
            }
            for (int i = 0; i < 1_000; i++) {
                try (Stream<Integer> keys = backend.getKeys("values", VoidNamespace.INSTANCE)) {
                    assertThat(keys.findFirst()).isPresent();
                }
                assertThat(backend.getKeys("values", VoidNamespace.INSTANCE).count()).isEqualTo(10);
            }
            assertThat(backend.openKeyIterators())
                    .as("closed and exhausted streams are not kept for dispose")
                    .isZero();
        } finally {
            backend.dispose();
        }
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
    }
}
