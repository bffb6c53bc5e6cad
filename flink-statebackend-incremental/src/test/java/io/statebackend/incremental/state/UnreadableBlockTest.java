package io.statebackend.incremental.state;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.RottenBlocks;

import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A read that meets a block RocksDB cannot read (its checksum does not match: the file rotted on
 * the local disk) fails, instead of ending early as if the state ended there. A RocksDB iterator
 * that meets such a block becomes invalid, exactly as at the end of its keys; only its status tells
 * the two apart.
 */
class UnreadableBlockTest {

    private static final int KEYS = 200;
    private static final String MAP = "map";

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
                                MAP, LongSerializer.INSTANCE, StringSerializer.INSTANCE));
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            map.put((long) key, "entry of " + key);
        }
        backend.flush();
        RottenBlocks.rotFirstDataBlock(backend.getDb(), MAP);
    }

    @AfterEach
    void close() throws Exception {
        backend.dispose();
        env.close();
    }

    @Test
    void isEmptyFails() {
        assertThatThrownBy(
                        () -> {
                            for (int key = 0; key < KEYS; key++) {
                                backend.setCurrentKey(key);
                                map.isEmpty();
                            }
                        })
                .hasStackTraceContaining("block checksum mismatch");
    }

    @Test
    void theKeysOfTheStateFail() {
        assertThatThrownBy(
                        () -> {
                            try (Stream<Integer> keys =
                                    backend.getKeys(MAP, VoidNamespace.INSTANCE)) {
                                keys.count();
                            }
                        })
                .hasStackTraceContaining("Could not read the keys of state map")
                .hasStackTraceContaining("block checksum mismatch");
    }

    @Test
    void iterationFails() {
        assertThatThrownBy(
                        () -> {
                            for (int key = 0; key < KEYS; key++) {
                                backend.setCurrentKey(key);
                                map.entries().forEach(entry -> {});
                            }
                        })
                .hasStackTraceContaining("block checksum mismatch");
    }

    @Test
    void countingTheEntriesFails() {
        assertThatThrownBy(() -> backend.numKeyValueStateEntries())
                .hasStackTraceContaining("block checksum mismatch");
    }
}
