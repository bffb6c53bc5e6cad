package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.FlakyStreamStateHandle;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.FlakyStreamFactory;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.MAX_PARALLELISM;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Checkpoints of the real backend to storage that fails transiently: the failed uploads and
 * downloads are retried, the checkpoint refers to exactly the files left in storage, and restores
 * exactly; a file that fails for good fails the checkpoint with a message naming it.
 */
class FlakyStorageCheckpointTest {

    private static final int KEYS = 3000;

    @TempDir Path tempDir;

    private final MockEnvironment env = MockEnvironment.builder().build();
    private final List<IncrementalRocksDBKeyedStateBackend<Integer>> backends = new ArrayList<>();

    @AfterEach
    void dispose() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<Integer> backend : backends) {
            backend.dispose();
        }
        env.close();
    }

    @ParameterizedTest(name = "failOnComplete={0}")
    @ValueSource(booleans = {false, true})
    void checkpointSucceedsAfterTransientUploadFailuresAndRestoresExactly(boolean failOnComplete)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(List.of());
        writeState(backend);
        Path storage = tempDir.resolve("storage");
        FlakyStreamFactory flaky =
                new FlakyStreamFactory(
                        TestStreamFactories.files(storage),
                        CheckpointedStateScope.SHARED,
                        3,
                        failOnComplete);

        IncrementalRemoteKeyedStateHandle handle = snapshot(backend, 1, flaky);

        assertThat(flaky.failedStreams()).isEqualTo(3);
        assertThat(handle.getSharedState()).hasSizeGreaterThanOrEqualTo(3);
        assertThat(TestStreamFactories.filesBelow(storage))
                .as("files in storage: exactly those the checkpoint refers to")
                .containsExactlyInAnyOrderElementsOf(referencedFiles(handle));

        assertExactState(createBackend(List.of(handle)));
    }

    @Test
    void checkpointSucceedsAfterTransientFailuresOfItsMetaDataAndRestoresExactly()
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(List.of());
        writeState(backend);
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory files = TestStreamFactories.files(storage);
        FlakyStreamFactory flaky =
                new FlakyStreamFactory(files, CheckpointedStateScope.EXCLUSIVE, 2, false);

        IncrementalRemoteKeyedStateHandle handle =
                snapshot(backend, 1, new SnapshotThreadStreams(flaky, files));

        assertThat(flaky.failedStreams()).isEqualTo(2);
        assertThat(TestStreamFactories.filesBelow(storage))
                .as("files in storage: exactly those the checkpoint refers to")
                .containsExactlyInAnyOrderElementsOf(referencedFiles(handle));
        assertExactState(createBackend(List.of(handle)));
    }

    @Test
    void metaDataFailingForGoodFailsTheCheckpointNamingItAndLeavesNothing() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(List.of());
        writeState(backend);
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory files = TestStreamFactories.files(storage);

        assertThatThrownBy(
                        () ->
                                snapshot(
                                        backend,
                                        1,
                                        new SnapshotThreadStreams(
                                                FlakyStreamFactory.failingAlways(
                                                        files, CheckpointedStateScope.EXCLUSIVE),
                                                files)))
                .hasStackTraceContaining(
                        "Could not upload the meta data of checkpoint 1 (EXCLUSIVE) after 4"
                                + " attempts: attempt 1: ");
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    @Test
    void fileFailingForGoodFailsTheCheckpointNamingItAndItsAttempts() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(List.of());
        writeState(backend);
        Path storage = tempDir.resolve("storage");

        assertThatThrownBy(
                        () ->
                                snapshot(
                                        backend,
                                        1,
                                        FlakyStreamFactory.failingAlways(
                                                TestStreamFactories.files(storage),
                                                CheckpointedStateScope.SHARED)))
                .hasStackTraceContaining(".sst (SHARED) after 4 attempts: attempt 1: ")
                .hasStackTraceContaining("; attempt 4: java.io.IOException: Injected transient");
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();

        // the storage works again: so does the next checkpoint
        IncrementalRemoteKeyedStateHandle next =
                snapshot(backend, 2, TestStreamFactories.files(tempDir.resolve("storage2")));
        assertExactState(createBackend(List.of(next)));
    }

    @Test
    void restoreRetriesTransientReadFailuresAndIsExact() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(List.of());
        writeState(backend);
        IncrementalRemoteKeyedStateHandle handle =
                snapshot(backend, 1, TestStreamFactories.files(tempDir.resolve("storage")));

        List<FlakyStreamStateHandle> flakyFiles = new ArrayList<>();
        List<HandleAndLocalPath> shared = new ArrayList<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            FlakyStreamStateHandle flaky = new FlakyStreamStateHandle(file.getHandle(), 2);
            flakyFiles.add(flaky);
            shared.add(HandleAndLocalPath.of(flaky, file.getLocalPath()));
        }
        IncrementalRemoteKeyedStateHandle flakyHandle =
                new IncrementalRemoteKeyedStateHandle(
                        handle.getBackendIdentifier(),
                        handle.getKeyGroupRange(),
                        handle.getCheckpointId(),
                        shared,
                        handle.getPrivateState(),
                        handle.getMetaDataStateHandle(),
                        handle.getCheckpointedSize());

        assertExactState(createBackend(List.of(flakyHandle)));
        assertThat(flakyFiles)
                .isNotEmpty()
                .allSatisfy(file -> assertThat(file.openedStreams()).isEqualTo(3));
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            List<IncrementalRemoteKeyedStateHandle> restoreFrom) throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        new IncrementalRocksDBStateBackend(true)
                                .withTransferThreads(2)
                                .withLocalDirectories(tempDir.resolve("local").toString())
                                // short backoffs keep the test fast; the policy's own test
                                // covers their lengths
                                .withSetting(
                                        IncrementalRocksDBOptions.RETRY_INITIAL_BACKOFF.key(),
                                        "1 ms")
                                .withSetting(
                                        IncrementalRocksDBOptions.RETRY_MAX_BACKOFF.key(), "4 ms"),
                        env,
                        IntSerializer.INSTANCE,
                        MAX_PARALLELISM,
                        new KeyGroupRange(0, MAX_PARALLELISM - 1),
                        new ArrayList<>(restoreFrom));
        backends.add(backend);
        return backend;
    }

    /** Three SST files, the last one overwriting part of the first. */
    private static void writeState(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        writeAndFlush(backend, 0, KEYS, "a");
        writeAndFlush(backend, KEYS, KEYS, "b");
        writeAndFlush(backend, 0, KEYS / 2, "c");
    }

    private static void assertExactState(IncrementalRocksDBKeyedStateBackend<Integer> restored)
            throws Exception {
        for (int key = 0; key < 2 * KEYS; key++) {
            String expected = (key < KEYS / 2 ? "c-" : key < KEYS ? "a-" : "b-") + key;
            assertThat(get(restored, key)).as("key %d", key).isEqualTo(expected);
        }
        assertThat(get(restored, 2 * KEYS)).isNull();
    }

    private static IncrementalRemoteKeyedStateHandle snapshot(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            long checkpointId,
            org.apache.flink.runtime.state.CheckpointStreamFactory factory)
            throws Exception {
        return IncrementalTestHarness.snapshot(
                backend,
                checkpointId,
                factory,
                CheckpointOptions.forCheckpointWithDefaultLocation());
    }

    /**
     * The streams the snapshot opens on its own thread (the thread that runs it: here the test's),
     * which is its meta data, come from {@code snapshotThread}; those of the transfer threads, the
     * files, from {@code transferThreads}.
     */
    private static final class SnapshotThreadStreams
            extends TestStreamFactories.NonDuplicatingStreamFactory {
        private final CheckpointStreamFactory snapshotThread;
        private final CheckpointStreamFactory transferThreads;
        private final Thread owner = Thread.currentThread();

        SnapshotThreadStreams(
                CheckpointStreamFactory snapshotThread, CheckpointStreamFactory transferThreads) {
            this.snapshotThread = snapshotThread;
            this.transferThreads = transferThreads;
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            return (Thread.currentThread() == owner ? snapshotThread : transferThreads)
                    .createCheckpointStateOutputStream(scope);
        }
    }

    private static Set<Path> referencedFiles(IncrementalRemoteKeyedStateHandle handle) {
        Set<Path> files = new TreeSet<>();
        List<StreamStateHandle> handles = new ArrayList<>();
        handle.getSharedState().forEach(file -> handles.add(file.getHandle()));
        handle.getPrivateState().forEach(file -> handles.add(file.getHandle()));
        handles.add(handle.getMetaDataStateHandle());
        for (StreamStateHandle file : handles) {
            if (file instanceof FileStateHandle) {
                files.add(Paths.get(((FileStateHandle) file).getFilePath().toUri()));
            } else {
                // an empty file needs no object in storage
                assertThat(file.getStateSize()).as("%s", file).isZero();
            }
        }
        return files;
    }
}
