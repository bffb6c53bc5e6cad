package io.statebackend.incremental.restore;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tests restoring backends from their incremental snapshots. */
class RocksDBIncrementalRestoreOperationTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private Path local;
    private IncrementalTestHarness harness;
    private CheckpointStreamFactory factory;

    @BeforeEach
    void setUp() throws Exception {
        local = tempDir.resolve("local");
        harness = new IncrementalTestHarness(local);
        factory = TestStreamFactories.files(tempDir.resolve("storage"));
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void restoresIncrementalCheckpointAndReusesItsFiles() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(backend, 1, factory);
        harness.register(first);
        backend.notifyCheckpointComplete(1);
        writeAndFlush(backend, 500, 1000, "b");
        IncrementalRemoteKeyedStateHandle second = harness.checkpoint(backend, 2, factory);
        assertThat(second.getSharedState())
                .anyMatch(h -> h.getHandle() instanceof PlaceholderStreamStateHandle);
        harness.register(second);
        harness.dispose(backend);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(ALL, Collections.singletonList(second));
        for (int key = 0; key < 1500; key++) {
            assertThat(get(restored, key)).isEqualTo((key < 500 ? "a-" : "b-") + key);
        }
        assertThat(get(restored, 1500)).isNull();
        assertThat(restored.getBackendUID()).isNotEqualTo(second.getBackendIdentifier());
        // only the live database is left in the instance directory
        assertThat(restored.getInstanceDirectory().list()).containsExactly("db");

        // the restored checkpoint is complete: its files are referred to, not uploaded again
        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(restored, 3, factory);
        for (HandleAndLocalPath file : third.getSharedState()) {
            assertThat(file.getHandle()).isInstanceOf(PlaceholderStreamStateHandle.class);
        }
        harness.register(third);

        // and restoring from that one works as well
        IncrementalRocksDBKeyedStateBackend<Integer> again =
                harness.createBackend(ALL, Collections.singletonList(third));
        assertThat(get(again, 7)).isEqualTo("a-7");
        assertThat(get(again, 700)).isEqualTo("b-700");
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "../../escaped.sst", "sub/000001.sst", ".."})
    void refusesCraftedFileNames(String craftedName) throws Exception {
        IncrementalRemoteKeyedStateHandle handle = checkpointOfFreshBackend(7);

        List<HandleAndLocalPath> shared = new ArrayList<>(handle.getSharedState());
        HandleAndLocalPath victim = shared.remove(0);
        shared.add(HandleAndLocalPath.of(victim.getHandle(), craftedName));
        IncrementalRemoteKeyedStateHandle crafted =
                new IncrementalRemoteKeyedStateHandle(
                        handle.getBackendIdentifier(),
                        handle.getKeyGroupRange(),
                        handle.getCheckpointId(),
                        shared,
                        handle.getPrivateState(),
                        handle.getMetaDataStateHandle(),
                        handle.getCheckpointedSize());

        assertThatThrownBy(() -> harness.createBackend(ALL, Collections.singletonList(crafted)))
                .hasStackTraceContaining("Checkpoint 7 refers to the file '" + craftedName + "'");
        // nothing half-restored, nothing written outside the instance directory
        assertThat(TestStreamFactories.filesBelow(local)).isEmpty();
        assertThat(tempDir.resolve("x")).doesNotExist();
        assertThat(tempDir.resolve("escaped.sst")).doesNotExist();
        assertThat(Path.of("/abs")).doesNotExist();
    }

    @Test
    void corruptedFileFailsRestoreNamingFileAndCheckpoint() throws Exception {
        IncrementalRemoteKeyedStateHandle handle = checkpointOfFreshBackend(12);
        HandleAndLocalPath sst = handle.getSharedState().get(0);
        Path stored = Path.of(((FileStateHandle) sst.getHandle()).getFilePath().toUri());
        byte[] bytes = Files.readAllBytes(stored);
        bytes[bytes.length / 3] ^= 0x01;
        Files.write(stored, bytes);

        assertThatThrownBy(() -> harness.createBackend(ALL, Collections.singletonList(handle)))
                .hasStackTraceContaining(
                        "File '" + sst.getLocalPath() + "' of checkpoint 12 is corrupted");
        assertThat(TestStreamFactories.filesBelow(local)).isEmpty();
    }

    @Test
    void missingFileFailsRestoreNamingFileAndCheckpoint() throws Exception {
        IncrementalRemoteKeyedStateHandle handle = checkpointOfFreshBackend(13);
        HandleAndLocalPath sst = handle.getSharedState().get(0);
        Files.delete(Path.of(((FileStateHandle) sst.getHandle()).getFilePath().toUri()));

        assertThatThrownBy(() -> harness.createBackend(ALL, Collections.singletonList(handle)))
                .hasStackTraceContaining(
                        "Could not download file '" + sst.getLocalPath() + "' of checkpoint 13");
        assertThat(TestStreamFactories.filesBelow(local)).isEmpty();
    }

    @Test
    void fileMissingFromHandleFailsRestore() throws Exception {
        IncrementalRemoteKeyedStateHandle handle = checkpointOfFreshBackend(14);
        List<HandleAndLocalPath> shared = new ArrayList<>(handle.getSharedState());
        HandleAndLocalPath dropped = shared.remove(0);
        IncrementalRemoteKeyedStateHandle incomplete =
                new IncrementalRemoteKeyedStateHandle(
                        handle.getBackendIdentifier(),
                        handle.getKeyGroupRange(),
                        handle.getCheckpointId(),
                        shared,
                        handle.getPrivateState(),
                        handle.getMetaDataStateHandle(),
                        handle.getCheckpointedSize());

        assertThatThrownBy(() -> harness.createBackend(ALL, Collections.singletonList(incomplete)))
                .hasStackTraceContaining(
                        "The file '" + dropped.getLocalPath() + "' of checkpoint 14 is missing");
        assertThat(TestStreamFactories.filesBelow(local)).isEmpty();
    }

    @Test
    void scaleUpClipsToTheNewRange() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 2000, "a");
        writeAndFlush(backend, 1000, 2000, "b");
        IncrementalRemoteKeyedStateHandle handle = harness.checkpoint(backend, 1, factory);
        harness.register(handle);
        harness.dispose(backend);

        KeyGroupRange lower = new KeyGroupRange(0, 40);
        KeyGroupRange upper = new KeyGroupRange(41, IncrementalTestHarness.MAX_PARALLELISM - 1);
        for (KeyGroupRange range : List.of(lower, upper)) {
            IncrementalRocksDBKeyedStateBackend<Integer> restored =
                    harness.createBackend(range, Collections.singletonList(handle));
            assertThat(keys(restored)).isEqualTo(keysIn(range, 0, 3000));
            for (int key : keysIn(range, 0, 3000)) {
                assertThat(get(restored, key)).isEqualTo((key < 1000 ? "a-" : "b-") + key);
            }
            // a rescaled backend has nothing to reuse: its first checkpoint uploads everything
            IncrementalRemoteKeyedStateHandle next = harness.checkpoint(restored, 2, factory);
            assertThat(next.getSharedState())
                    .noneMatch(h -> h.getHandle() instanceof PlaceholderStreamStateHandle);
            assertThat(restored.getInstanceDirectory().list()).containsExactly("db");
        }
    }

    @Test
    void scaleDownMergesSnapshots() throws Exception {
        List<KeyGroupRange> ranges =
                List.of(
                        new KeyGroupRange(0, 30),
                        new KeyGroupRange(31, 90),
                        new KeyGroupRange(91, IncrementalTestHarness.MAX_PARALLELISM - 1));
        List<KeyedStateHandle> handles = new ArrayList<>();
        long checkpointId = 1;
        for (KeyGroupRange range : ranges) {
            IncrementalRocksDBKeyedStateBackend<Integer> backend =
                    harness.createBackend(range, Collections.emptyList());
            for (int key : keysIn(range, 0, 3000)) {
                IncrementalTestHarness.put(backend, key, "v-" + key);
            }
            backend.flush();
            IncrementalRemoteKeyedStateHandle handle =
                    harness.checkpoint(backend, checkpointId++, factory);
            harness.register(handle);
            handles.add(handle);
            harness.dispose(backend);
        }

        // two backends from three snapshots, each overlapping two of them
        KeyGroupRange first = new KeyGroupRange(0, 60);
        KeyGroupRange second = new KeyGroupRange(61, IncrementalTestHarness.MAX_PARALLELISM - 1);
        for (KeyGroupRange range : List.of(first, second)) {
            List<KeyedStateHandle> overlapping = new ArrayList<>();
            for (KeyedStateHandle handle : handles) {
                if (handle.getKeyGroupRange().getIntersection(range).getNumberOfKeyGroups() > 0) {
                    overlapping.add(handle);
                }
            }
            assertThat(overlapping).hasSize(2);
            IncrementalRocksDBKeyedStateBackend<Integer> restored =
                    harness.createBackend(range, overlapping);
            assertThat(keys(restored)).isEqualTo(keysIn(range, 0, 3000));
            for (int key : keysIn(range, 0, 3000)) {
                assertThat(get(restored, key)).isEqualTo("v-" + key);
            }
            assertThat(restored.getInstanceDirectory().list()).containsExactly("db");
        }
    }

    private static Set<Integer> keysIn(KeyGroupRange range, int from, int to) {
        Set<Integer> keys = new TreeSet<>();
        for (int key = from; key < to; key++) {
            if (range.contains(
                    KeyGroupRangeAssignment.assignToKeyGroup(
                            key, IncrementalTestHarness.MAX_PARALLELISM))) {
                keys.add(key);
            }
        }
        return keys;
    }

    private static Set<Integer> keys(IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        try (Stream<Integer> keys =
                backend.getKeys(IncrementalTestHarness.STATE.getName(), VoidNamespace.INSTANCE)) {
            return keys.collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private IncrementalRemoteKeyedStateHandle checkpointOfFreshBackend(long checkpointId)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        IncrementalRemoteKeyedStateHandle handle =
                harness.checkpoint(backend, checkpointId, factory);
        harness.register(handle);
        harness.dispose(backend);
        assertThat(TestStreamFactories.filesBelow(local)).isEmpty();
        return handle;
    }
}
